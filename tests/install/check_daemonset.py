"""The Kubernetes manifest (packaging/kubernetes/daemonset.yaml) read as
YAML, and the fields the agent needs checked: a DaemonSet whose selector
matches its pods, host PID namespace, the BPF capabilities, the host's
tracefs, debugfs, /lib/modules, /usr/src and cgroups mounted from
volumes that exist, the metrics port where Prometheus is told to look,
the config from the ConfigMap beside it, and the headless Service that
packaging/prometheus.yml discovers.
    python3 check_daemonset.py FILE [PROMETHEUS_YML]"""
import sys

import yaml

docs = list(yaml.safe_load_all(open(sys.argv[1])))
failed = 0
checks = 0


def ok(cond, what):
    global failed, checks
    checks += 1
    if not cond:
        print(f"FAIL: {what}")
        failed = 1


by_kind = {d["kind"]: d for d in docs}
ok(sorted(by_kind) == ["ConfigMap", "DaemonSet", "Namespace", "Service"], f"kinds: {sorted(by_kind)}")
ds = by_kind["DaemonSet"]
ok(ds["apiVersion"] == "apps/v1", "DaemonSet is apps/v1")
ns = by_kind["Namespace"]["metadata"]["name"]
ok(all(d["metadata"].get("namespace", ns) == ns for d in docs), "one namespace")
spec = ds["spec"]
tmpl = spec["template"]
labels = tmpl["metadata"]["labels"]
ok(all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()), "the selector matches the pods")
pod = tmpl["spec"]
ok(pod.get("hostPID") is True, "hostPID")
ok(any(t.get("operator") == "Exists" for t in pod.get("tolerations", [])), "runs on every node (tolerations)")
(c,) = pod["containers"]
ok(c["args"][0] == "agent", "runs bpflua agent")
caps = c["securityContext"]["capabilities"]["add"]
for cap in ("BPF", "PERFMON", "SYS_ADMIN"):
    ok(cap in caps, f"capability {cap}")
ok(all(not x.startswith("CAP_") for x in caps), "capability names without CAP_ (as Kubernetes spells them)")
ok(c["securityContext"].get("privileged") is not True, "not privileged: capabilities only")
volumes = {v["name"]: v for v in pod["volumes"]}
mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
ok(all(m["name"] in volumes for m in c["volumeMounts"]), "every mount has its volume")
for path in ("/sys/kernel/tracing", "/sys/kernel/debug", "/lib/modules", "/usr/src", "/sys/fs/cgroup"):
    m = mounts.get(path)
    ok(m is not None, f"{path} mounted")
    if m:
        ok(volumes[m["name"]].get("hostPath", {}).get("path") == path, f"{path} is the host's")
for path in ("/lib/modules", "/usr/src"):
    ok(mounts.get(path, {}).get("readOnly") is True, f"{path} read-only")
cfg = c["args"][c["args"].index("--config") + 1]
cfg_mount = [p for p in mounts if cfg.startswith(p + "/")]
ok(len(cfg_mount) == 1, f"--config {cfg} is on a mount")
if cfg_mount:
    vol = volumes[mounts[cfg_mount[0]]["name"]]
    cm = vol.get("configMap", {}).get("name")
    ok(cm == by_kind["ConfigMap"]["metadata"]["name"], "the config comes from the ConfigMap")
    ok(cfg.rsplit("/", 1)[1] in by_kind["ConfigMap"]["data"], "the ConfigMap holds the config file")
listen = c["args"][c["args"].index("--listen") + 1]
port = int(listen.rsplit(":", 1)[1])
ok(any(p["containerPort"] == port for p in c["ports"]), "the listen port is a container port")
ok(tmpl["metadata"]["annotations"]["prometheus.io/port"] == str(port), "the scrape annotation names that port")
env = {e["name"]: e for e in c["env"]}
ok(env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName", "NODE_NAME from the node")
ok("host.name=$(NODE_NAME)" in env["OTEL_RESOURCE_ATTRIBUTES"]["value"], "host.name is the node's")
ok(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", {}).get("value", "").startswith("http"), "an OTLP endpoint")
svc = by_kind["Service"]
ok(svc["spec"].get("clusterIP") == "None", "the Service is headless (a DNS record per pod)")
ok(svc["spec"]["selector"] == spec["selector"]["matchLabels"], "the Service selects the agent's pods")
ok(any(p["port"] == port for p in svc["spec"]["ports"]), "the Service's port is the agent's")

if len(sys.argv) > 2:
    prom = yaml.safe_load(open(sys.argv[2]))
    dns = [sd for job in prom["scrape_configs"] for sd in job.get("dns_sd_configs", [])]
    want = f"{svc['metadata']['name']}.{ns}.svc.cluster.local"
    ok(any(want in sd["names"] and sd["port"] == port for sd in dns), f"Prometheus discovers {want}:{port}")

if not failed:
    print(f"daemonset: {checks} checks passed")
sys.exit(failed)
