//! The parts of a remote repository's URL (`oci://registry/path`, `s3://bucket/prefix`,
//! `gs://bucket/prefix`), shared by config validation and the sources that use them.

/// `scheme://bucket/prefix` → (bucket, prefix without slashes at either end).
pub fn split_bucket<'u>(url: &'u str, scheme: &str) -> Option<(&'u str, &'u str)> {
    let rest = url.strip_prefix(scheme)?.strip_prefix("://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    Some((bucket, key.trim_matches('/')))
}

/// `oci://host[:port]/path` → (host[:port], path without slashes at either end).
pub fn split_oci(url: &str) -> Option<(&str, &str)> {
    split_bucket(url, "oci")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_or_bucket_and_path() {
        assert_eq!(split_bucket("s3://b/charts/", "s3"), Some(("b", "charts")));
        assert_eq!(split_bucket("gs://b", "gs"), Some(("b", "")));
        assert_eq!(split_bucket("s3:///x", "s3"), None);
        assert_eq!(split_bucket("gs://b/x", "s3"), None);
        assert_eq!(
            split_oci("oci://127.0.0.1:5000/charts/stable"),
            Some(("127.0.0.1:5000", "charts/stable"))
        );
        assert_eq!(split_oci("oci://ghcr.io"), Some(("ghcr.io", "")));
        assert_eq!(split_oci("oci:///x"), None);
    }
}
