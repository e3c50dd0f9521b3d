"""Tests for tools/helm-shim/helm.

Run with the engine's interpreter:

    .venv/bin/python tools/helm-shim/test_shim.py

The manifest part of `helm template` is checked against the engine itself:
Helm's own install action in client dry-run mode (what `helm template` runs)
renders and sorts the manifests, and the shim's output must match it byte for
byte. Hooks, CRDs and flags are checked directly.
"""

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHIM = os.path.join(HERE, "helm")
CHARTS = os.path.join(ROOT, "assets", "charts")
DEMO = os.path.join(ROOT, "assets", "demo")

import helm_python as helm  # noqa: E402
from helm_python import _native  # noqa: E402

helm.disable_logging()  # the engine's own INFO lines (e.g. "skipping unknown hooks")


def run(*args, stdin=None):
    proc = subprocess.run([sys.executable, SHIM, *args], input=stdin, capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def engine_manifest(chart_dir, release, values, namespace, kube_version=None):
    """The release manifest Helm's install action produces in client dry-run mode."""
    cfg = helm.Config(namespace=namespace, storage_driver="memory", kube_apiserver="https://127.0.0.1:1")
    try:
        chart = helm.Chart.load(chart_dir)
        opts = {"dry_run": "client", "namespace": namespace}
        if kube_version:
            opts["kube_version"] = kube_version
        payload = _native.call_string(
            "helm_install", cfg._raw(), _native.HANDLE(0), chart._raw(), None, release,
            json.dumps(values), json.dumps(opts))
        return json.loads(payload).get("manifest", "")
    finally:
        cfg.close()


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


KINDS = [
    "PriorityClass", "Namespace", "NetworkPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret",
    "ConfigMap", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "RoleBinding",
    "Service", "DaemonSet", "Pod", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job",
    "CronJob", "IngressClass", "Ingress", "APIService", "ValidatingWebhookConfiguration",
    "Widget", "Alpha", "zeta", "", "configmap",
]


def make_kitchen_chart(root, seed=7):
    """A chart with many kinds, files, subcharts, hooks and odd separators."""
    chart = os.path.join(root, "kitchen")
    write(os.path.join(chart, "Chart.yaml"),
          "apiVersion: v2\nname: kitchen\nversion: 0.1.0\ndependencies:\n"
          "  - name: zsub\n    version: 0.1.0\n  - name: asub\n    version: 0.1.0\n    condition: asub.enabled\n")
    write(os.path.join(chart, "values.yaml"), "asub:\n  enabled: true\n")
    for sub in ("zsub", "asub"):
        write(os.path.join(chart, "charts", sub, "Chart.yaml"), "apiVersion: v2\nname: %s\nversion: 0.1.0\n" % sub)
    crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: %s\n"
    write(os.path.join(chart, "crds", "b.yaml"), crd % "b.example.com")
    write(os.path.join(chart, "crds", "a.yaml"), "# leading comment\n" + crd % "a.example.com")
    write(os.path.join(chart, "charts", "asub", "crds", "crd.yaml"), crd % "sub.example.com")
    rng = random.Random(seed)
    files = ["templates/a.yaml", "templates/b.yaml", "templates/sub/c.yaml", "templates/Z.yaml",
             "charts/zsub/templates/x.yaml", "charts/asub/templates/y.yaml", "templates/_partial.yaml"]
    hooks = ["pre-install", "post-install, pre-upgrade", "test", "test-success", "Pre-Install", "bogus"]
    count = 0
    for name in files:
        docs = []
        for _ in range(12):
            count += 1
            kind = rng.choice(KINDS)
            doc = "apiVersion: v1\n%smetadata:\n  name: o%d\n" % ("kind: %s\n" % kind if kind else "", count)
            roll = rng.random()
            if roll < 0.15:
                doc = doc.replace("metadata:\n", "metadata:\n  annotations:\n    helm.sh/hook: %s\n" % rng.choice(hooks))
            elif roll < 0.2:
                doc = doc.replace("metadata:\n", "metadata:\n  annotations:\n    other: x\n")
            if rng.random() < 0.1:
                doc = "# a comment\n" + doc
            docs.append(doc)
        sep = rng.choice(["---\n", "\n---\n", "  \n---   \n\n", "--- \n"])
        text = ("---\n" if rng.random() < 0.5 else "") + sep.join(docs) + rng.choice(["", "\n\n", "---\n"])
        write(os.path.join(chart, name), text)
    write(os.path.join(chart, "templates", "empty.yaml"), "{{/* nothing */}}\n  \n")
    write(os.path.join(chart, "templates", "NOTES.txt"), "notes for {{ .Release.Name }}\n")
    return chart


def sources(text):
    return re.findall(r"^# Source: (.*)$", text, flags=re.M)


class MatchesEngine(unittest.TestCase):
    """The manifest part equals what Helm's install action renders."""

    def check(self, chart_dir, release, values, namespace="demo"):
        expected = engine_manifest(chart_dir, release, values, namespace).strip() + "\n"
        code, out, err = run("template", release, chart_dir, "-n", namespace, "-f", "-", "--no-hooks",
                             stdin=json.dumps(values))
        self.assertEqual(code, 0, err)
        self.assertEqual(out, expected)

    def test_demo_charts(self):
        self.check(os.path.join(CHARTS, "web"), "web", {})
        self.check(os.path.join(CHARTS, "web"), "shop", {
            "redis": {"enabled": True}, "autoscaling": {"enabled": True},
            "ingress": {"enabled": True, "tls": [{"secretName": "t"}]}, "resources": {"limits": None}})
        self.check(os.path.join(CHARTS, "worker"), "worker", {})
        self.check(os.path.join(CHARTS, "worker"), "jobs", {"podDisruptionBudget": {"enabled": False}})

    def test_kitchen_chart(self):
        with tempfile.TemporaryDirectory() as tmp:
            chart = make_kitchen_chart(tmp)
            self.check(chart, "k", {})
            self.check(chart, "k", {"asub": {"enabled": False}})


class Template(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.kitchen = make_kitchen_chart(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_default_release_name_and_source_lines(self):
        code, out, err = run("template", os.path.join(CHARTS, "web"))
        self.assertEqual(code, 0, err)
        self.assertTrue(out.startswith("---\n# Source: web/templates/serviceaccount.yaml\n"))
        self.assertIn("app.kubernetes.io/instance: release-name", out)
        self.assertNotIn("NOTES", out)
        self.assertEqual(sources(out), [
            "web/templates/serviceaccount.yaml", "web/templates/secret.yaml", "web/templates/configmap.yaml",
            "web/templates/service.yaml", "web/templates/deployment.yaml", "web/templates/tests/test-connection.yaml"])

    def test_subchart_sources(self):
        code, out, err = run("template", "web", os.path.join(CHARTS, "web"), "--set", "redis.enabled=true")
        self.assertEqual(code, 0, err)
        self.assertIn("# Source: web/charts/redis/templates/deployment.yaml", out)
        self.assertIn('REDIS_URL: "redis://web-redis:6379/0"', out)

    def test_hooks_follow_manifests_in_kind_order(self):
        code, full, err = run("template", "k", self.kitchen)
        self.assertEqual(code, 0, err)
        code, bare, _ = run("template", "k", self.kitchen, "--no-hooks")
        self.assertTrue(full.startswith(bare))
        hooks = full[len(bare):]
        self.assertIn("helm.sh/hook", hooks)
        self.assertNotIn("helm.sh/hook: bogus", full)  # unknown hook types are dropped
        code, notests, _ = run("template", "k", self.kitchen, "--skip-tests")
        self.assertNotRegex(notests, r"helm.sh/hook: test")
        self.assertRegex(full, r"helm.sh/hook: test-success")

    def test_include_crds(self):
        code, out, err = run("template", "k", self.kitchen, "--include-crds")
        self.assertEqual(code, 0, err)
        self.assertEqual(sources(out)[:3], [
            "kitchen/crds/a.yaml", "kitchen/crds/b.yaml", "kitchen/charts/asub/crds/crd.yaml"])
        code, out, _ = run("template", "k", self.kitchen, "--include-crds", "--set", "asub.enabled=false")
        self.assertNotIn("kitchen/charts/asub/crds/crd.yaml", out)
        code, out, _ = run("template", "k", self.kitchen)
        self.assertNotIn("kitchen/crds/", out)

    def test_values_layering(self):
        with tempfile.TemporaryDirectory() as tmp:
            first = os.path.join(tmp, "a.yaml")
            second = os.path.join(tmp, "b.yaml")
            write(first, "replicaCount: 5\nconfig:\n  A: one\nextraEnv:\n  - {name: X, value: x}\n  - {name: Y, value: y}\n")
            write(second, "config:\n  B: two\nimage:\n  tag: \"9.9.9\"\n")
            code, out, err = run(
                "template", "web", os.path.join(CHARTS, "web"), "-f", first, "-f", "-", "--values", second,
                "--set", "extraEnv[1].value=yy", "--set-string", "config.C=010", "-s", "templates/deployment.yaml",
                "-s", "templates/configmap.yaml", stdin="replicaCount: 7\nconfig:\n  A: stdin\n")
            self.assertEqual(code, 0, err)
            self.assertIn("replicas: 7", out)
            self.assertIn('image: "ghcr.io/acme/web:9.9.9"', out)
            self.assertIn('A: "stdin"', out)
            self.assertIn('B: "two"', out)
            self.assertIn('C: "010"', out)
            self.assertIn("value: x\n", out)
            self.assertIn("value: yy\n", out)

    def test_set_writes_into_existing_values_like_helm(self):
        with tempfile.TemporaryDirectory() as tmp:
            chart = os.path.join(tmp, "dump")
            write(os.path.join(chart, "Chart.yaml"), "apiVersion: v2\nname: dump\nversion: 0.1.0\n")
            write(os.path.join(chart, "templates", "cm.yaml"),
                  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: values\n"
                  "data:\n  values.json: {{ .Values | toJson | quote }}\n")

            def values(text, *sets):
                code, out, err = run("template", "d", chart, "-f", "-", *sets, stdin=text)
                if code != 0:
                    return err.strip()
                return json.loads(json.loads(re.search(r"values.json: (.*)", out).group(1)))

            self.assertEqual(values("hosts: [a, b, c]\n", "--set", "hosts[1]=z"), {"hosts": ["a", "z", "c"]})
            self.assertEqual(values("hosts: [a, b, c]\n", "--set", "hosts={z}"), {"hosts": ["z"]})
            self.assertEqual(values("l: [{x: 1}]\n", "--set", "l[0].y=2"), {"l": [{"x": 1, "y": 2}]})
            self.assertEqual(values("a: {b: 1}\n", "--set", "a.c=2", "--set-string", "a.d=3"),
                             {"a": {"b": 1, "c": 2, "d": "3"}})
            self.assertEqual(values("a: 1\n", "--set", "a.b=2"),
                             "Error: failed parsing --set data: unable to parse key: interface conversion: "
                             "interface {} is float64, not map[string]interface {}")
            self.assertEqual(values("{}", "--set", "a=1", "--set", "a[0]=2"),
                             "Error: failed parsing --set data: unable to parse key: interface conversion: "
                             "interface {} is int64, not []interface {}")
            # Keys that need escaping, nulls, empty maps and lists in the values so far.
            self.assertEqual(values('"a.b": {"c,d": 1}\nl: [1, null, {x: []}]\ne: {}\nnothing: null\n', "--set", "z=1"),
                             {"a.b": {"c,d": 1}, "l": [1, None, {"x": []}], "e": {}, "nothing": None, "z": 1})
            self.assertEqual(values("e: {}\n", "--set", "e.k=v"), {"e": {"k": "v"}})
            self.assertEqual(values("l: [a, null, c]\n", "--set-string", "l[1]=b"), {"l": ["a", "b", "c"]})
            self.assertEqual(values("l: [a, b]\n", "--set", "l[0]=null"), {"l": [None, "b"]})
            self.assertEqual(values("a: [1]\n", "--set-string", "a.b=2"),
                             "Error: failed parsing --set-string data: unable to parse key: interface conversion: "
                             "interface {} is []interface {}, not map[string]interface {}")

    def test_override_flags_order_and_kinds(self):
        with tempfile.TemporaryDirectory() as tmp:
            chart = os.path.join(tmp, "dump")
            write(os.path.join(chart, "Chart.yaml"), "apiVersion: v2\nname: dump\nversion: 0.1.0\n")
            write(os.path.join(chart, "templates", "cm.yaml"),
                  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: values\n"
                  "data:\n  values.json: {{ .Values | toJson | quote }}\n")
            cert = os.path.join(tmp, "cert.pem")
            write(cert, "-----BEGIN-----\nabc,def\n")

            def values(*args, stdin="{}"):
                code, out, err = run("template", "d", chart, "-f", "-", *args, stdin=stdin)
                if code != 0:
                    return err.strip()
                return json.loads(json.loads(re.search(r"values.json: (.*)", out).group(1)))

            # Kinds apply in Helm's order whatever the order on the command line.
            self.assertEqual(values("--set-literal", "k=literal", "--set-file", "k=" + cert, "--set-string", "k=s",
                                    "--set", "k=1", "--set-json", "k=[1]"), {"k": "literal"})
            self.assertEqual(values("--set", "k=1", "--set-json", "k=[1,2]", stdin="k: file\n"), {"k": 1})
            self.assertEqual(values("--set-json", 'k={"a":[1,{"b":null}]}', "--set", "k.c=x"),
                             {"k": {"a": [1, {"b": None}], "c": "x"}})
            self.assertEqual(values("--set-json", '{"a": {"b": 1}}', stdin="a: {c: 2}\n"), {"a": {"b": 1, "c": 2}})
            self.assertEqual(values("--set-json", "a[1]=true", stdin="a: [x, y, z]\n"), {"a": ["x", True, "z"]})
            self.assertEqual(values("--set-file", "tls.cert=" + cert, stdin="tls: {key: k}\n"),
                             {"tls": {"key": "k", "cert": "-----BEGIN-----\nabc,def\n"}})
            self.assertEqual(values("--set-literal", "a.b[1]=x,y=z={}", stdin="a: {b: [k, l, m]}\n"),
                             {"a": {"b": ["k", "x,y=z={}", "m"]}})
            self.assertEqual(values("--set-string", "n=010,b=true"), {"n": "010", "b": "true"})
            self.assertEqual(values("--set-json", "a={bad"), "Error: failed parsing --set-json data a={bad")
            self.assertIn("no such file", values("--set-file", "a=" + os.path.join(tmp, "missing")))

    def test_null_removes_a_default(self):
        code, out, err = run("template", "web", os.path.join(CHARTS, "web"), "-f", "-", "-s",
                             "templates/deployment.yaml", stdin="resources:\n  limits: null\n")
        self.assertEqual(code, 0, err)
        self.assertNotIn("limits:", out)

    def test_template_error_names_file_and_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            chart = os.path.join(tmp, "broken")
            write(os.path.join(chart, "Chart.yaml"), "apiVersion: v2\nname: broken\nversion: 0.1.0\n")
            write(os.path.join(chart, "templates", "cm.yaml"),
                  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.no.such }}\n")
            code, out, err = run("template", "b", chart)
            self.assertEqual(code, 1)
            self.assertEqual(out, "")
            self.assertTrue(err.startswith("Error: broken/templates/cm.yaml:6:"), err)
            self.assertIn("nil pointer evaluating interface {}.such", err)
            write(os.path.join(chart, "templates", "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\n data: x\n")
            code, _, err = run("template", "b", chart)
            self.assertEqual(code, 1)
            self.assertIn("Error: YAML parse error on broken/templates/cm.yaml:", err)

    def test_schema_and_argument_errors(self):
        web = os.path.join(CHARTS, "web")
        cases = [
            (["--set", "replicaCount=many"], "values don't meet the specifications of the schema"),
            (["--set", "replicaCount"], 'failed parsing --set data: key "replicaCount" has no value'),
            (["-f", "/no/such/file.yaml"], "open /no/such/file.yaml: no such file or directory"),
            (["--no-such-flag"], "unknown flag: --no-such-flag"),
            (["--output-dir", "x"], "is not supported"),
        ]
        for extra, message in cases:
            code, out, err = run("template", "web", web, *extra)
            self.assertEqual(code, 1, extra)
            self.assertTrue(err.startswith("Error: "), err)
            self.assertIn(message, err)
        code, _, err = run("template", "Bad_Name", web)
        self.assertIn('release name check failed: release name "Bad_Name"', err)
        code, _, err = run("template", "web", "./no/such/chart")
        self.assertEqual(err, 'Error: path "./no/such/chart" not found\n')
        code, _, err = run("frobnicate")
        self.assertEqual(code, 1)

    def test_kube_version_constraint(self):
        with tempfile.TemporaryDirectory() as tmp:
            chart = os.path.join(tmp, "kv")
            write(os.path.join(chart, "templates", "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
            for constraint in (">=1.19.0-0", "^1.20", "~1.29", ">= 1.22.0 < 1.30.0", "<1.20.0 || >=1.30.0",
                               "1.29.x", "!=1.29.3", "garbage"):
                write(os.path.join(chart, "Chart.yaml"),
                      "apiVersion: v2\nname: kv\nversion: 0.1.0\nkubeVersion: %s\n" % json.dumps(constraint))
                for version in ("1.29.3", "1.36.0", "1.29.3-gke.1"):
                    try:
                        engine_manifest(chart, "kv", {}, "default", kube_version=version)
                        expected = None
                    except helm.HelmError as exc:
                        expected = exc.detail
                    code, _, err = run("template", "kv", chart, "--kube-version", version)
                    if expected is None:
                        self.assertEqual(code, 0, (constraint, version, err))
                    else:
                        self.assertIn(expected, err, (constraint, version))


class Version(unittest.TestCase):
    def test_version(self):
        code, out, _ = run("version")
        self.assertEqual(code, 0)
        self.assertRegex(out, r'^version\.BuildInfo\{Version:"v4\.\d+\.\d+", GitCommit:"[^"]*", '
                              r'GitTreeState:"[^"]*", GoVersion:"go1\.[\d.]+", KubeClientVersion:"v1\.\d+"\}\n$')
        code, out, _ = run("version", "--short")
        self.assertRegex(out, r"^v4\.\d+\.\d+\n$")
        code, out, _ = run("version", "--template", "{{.Version}}")
        self.assertRegex(out, r"^v4\.\d+\.\d+$")


if __name__ == "__main__":
    unittest.main()
