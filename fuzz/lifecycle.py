#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""lifecycle.py: model-based lifecycle fuzzer of vgpu-hook.

Runs the built vgpu-hook and vgpuctl, with the simulated kernel preloaded
(tests/libsimkernel.so), on random simulated hosts built by tests/vh-fakehost,
through random interleavings of everything that changes a host: the hook's
operations as libvirt calls them (prepare/release/migrate/restore/reconnect;
a domain "runs" while /run/libvirt/qemu/<name>.pid and <name>.xml exist under
the redirected run dir), vgpuctl commands (define, rewrite, prepare, release,
bind, unbind, apply-profiles, setup, reconcile, leases --prune), SIGKILLs at fault
points (VH_FAULT_KILL_AT), damaged or replaced state files and a lost state
directory. After every step it checks, against its own model of the host:

  I1 no device is held by two live domains (a prepare that succeeds never
     hands out a device a running domain holds);
  I2 a running domain's devices are never unbound, reset or removed by
     anyone else (driver, driver_override, vGPU type, mdev, PF/parent driver,
     IOMMU-group companions);
  I3 nothing denied is ever written (the simulated kernel's write log, and
     the denied devices' state against the pristine host);
  I4 nothing is written outside the sysfs root and the state directory (the
     write log, and a snapshot of every other file the tools can see);
  I5 every refusal is exactly one line of valid UTF-8 and changes nothing;
     no output ever quotes a damaged or foreign file's content;
  I6 after any kill, `vgpuctl reconcile --offline` exits 0 and leaves a state
     the model accepts (no half-bound IOMMU group, no active lease of a
     domain that does not run, running domains untouched);
  I7 no call blocks past its bound (each runs under a timeout).

Usage (see fuzz/README.md):
  fuzz/lifecycle.py --builddir _build [--seconds N] [--seed N]
  fuzz/lifecycle.py --builddir _build --episode-seed N     # one episode
  fuzz/lifecycle.py --builddir _build --replay CASE.json    # a kept case
  fuzz/lifecycle.py --builddir _build --regressions DIR     # all kept cases

Stops at the first violation, shrinks the episode's step list (delta
debugging) and writes the minimal case as JSON (--save-dir), printing how to
replay it. Exit status: 0 no violation, 1 violation, 2 usage, 77 when the
build has no fault points.
"""

import argparse
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid as uuid_mod

ALL_INVARIANTS = ("I1", "I2", "I3", "I4", "I5", "I6", "I7")
ENABLED = list(ALL_INVARIANTS)  # --invariants narrows it
TIMEOUT_S = 15          # I7: no call may take longer
SRCDIR = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SECRET = "SECRET-1f6e"  # written into damaged/foreign files; never quoted

# ---------------------------------------------------------------- host ----

L40S_TYPES = {"1155": "L40S-1Q", "1161": "L40S-24Q", "1162": "L40S-48Q"}
FAULT_POINTS = ["lease:stale-undone", "lease:written", "mdev:created", "mdev:recorded",
                "mdev:removed", "passthrough:bound", "passthrough:recorded", "prepare:done",
                "prepare:locked", "release:undone", "vfio:override-cleared",
                "vfio:override-set", "vfio:probed", "vfio:released", "vfio:unbound",
                "vgpu:recorded", "vgpu:reset", "vgpu:written"]
PCI_IDS = ("10de  NVIDIA Corporation\n\t1aef  GA102 High Definition Audio Controller\n"
           "\t1eb8  TU104GL [Tesla T4]\n\t2236  GA102GL [A10]\n\t26b9  AD102GL [L40S]\n")
RESOURCES = ["nvidia.com/GA102GL_A10", "nvidia.com/L40S-24Q", "nvidia.com/L40S-1Q",
             "nvidia.com/L40S-48Q", "nvidia.com/GRID_T4-1Q", "nvidia.com/GRID_T4-16Q",
             "nvidia.com/AD102GL_L40S", "nvidia.com/TU104GL_Tesla_T4", "nvidia.com/nope"]
# Names libvirt accepts (it refuses only '/' and newline), as raw text.
ODD_NAMES = ["vm1", " vm1", "vm1 ", "vm\t1", "vm-\u00e9", "vm&x", "vm'q", 'vm"q', "vm<x>",
             "..x", "-vm", ".vm", "vm.pid", "a" * 60, "\U0001f680vm", "vm\u00a0",
             "vm1\u200b", "\\vm", "vm$(x)", "*", "vm;1", "vm2", "web", "web ", "VM1"]
MDEV_UUIDS = ["5b0e6f2a-0c1d-4e8f-9a7b-3c2d1e0f4a5b", "6c1f7a3b-1d2e-4f90-8b8c-4d3e2f1a5b6c",
              "7d2a8b4c-2e3f-4a01-9c9d-5e4f3a2b6c7d"]


def gen_host(rng):
    """A random host: (ini text, device table, deny list)."""
    ini = ["[vgpu-family L40S]", "framebuffer_gb=48",
           "types=" + ";".join("%s:NVIDIA %s" % kv for kv in L40S_TYPES.items()),
           "[mdev-family T4]", "types=nvidia-230:GRID T4-1Q:16;nvidia-234:GRID T4-16Q:1"]
    devs = {}   # addr -> dict(kind, group, parent, companions)
    top = []
    for i in range(rng.randint(1, 2)):
        a = "0000:%02x:00.0" % (0x3b + i)
        g = 20 + 10 * i
        ini += ["[device %s]" % a, "ids=10de:2236", "subsystem=10de:1482", "class=0x030200",
                "driver=nvidia", "iommu_group=%d" % g]
        devs[a] = {"kind": "gpu", "group": g}
        top.append(a)
        if rng.random() < 0.6:
            b = a[:-1] + "1"
            ini += ["[device %s]" % b, "ids=10de:1aef", "class=0x040300",
                    "driver=snd_hda_intel", "iommu_group=%d" % g]
            devs[b] = {"kind": "audio", "group": g, "parent": a}
    for i in range(rng.randint(1, 2)):
        a = "0000:%02x:00.0" % (0x41 + i)
        g = 60 + 10 * i
        nvf = rng.randint(2, 4)
        held = rng.sample(range(nvf), rng.randint(0, 2))
        ini += ["[device %s]" % a, "ids=10de:26b9", "class=0x030200", "driver=nvidia",
                "iommu_group=%d" % g, "sriov_totalvfs=4", "sriov_numvfs=%d" % nvf,
                "vgpu_family=L40S"]
        if held:
            ini.append("vf_types=" + ";".join("%d:1161" % v for v in held))
        devs[a] = {"kind": "pf", "group": g}
        top.append(a)
        for v in range(nvf):
            devs["0000:%02x:00.%d" % (0x41 + i, 4 + v)] = {"kind": "vf", "group": g + 1 + v,
                                                           "parent": a}
    for i in range(rng.randint(0, 1)):
        a = "0000:%02x:00.0" % (0xaf + i)
        g = 90 + 10 * i
        ini += ["[device %s]" % a, "ids=10de:1eb8", "class=0x030200", "driver=nvidia",
                "iommu_group=%d" % g, "mdev_family=T4"]
        devs[a] = {"kind": "mdevparent", "group": g}
        top.append(a)
    deny = [a for a in top if rng.random() < 0.25]
    extra = [a for a, d in devs.items() if d["kind"] in ("vf", "audio")]
    if extra and rng.random() < 0.2:
        deny.append(rng.choice(extra))
    return "\n".join(ini) + "\n", devs, sorted(set(deny))


def gen_config(rng, deny, devs=None):
    lines = ["[host]", "sysfs_root=@LIVE@/sys", "state_dir=@LIVE@/state",
             "cache_dir=@LIVE@/cache",
             "pci_ids=@TMP@/pci.ids", "use_hwdb=false", "vfio_dir=@LIVE@/dev/vfio",
             "libvirt_run_dir=@LIVE@/run", "lease_grace_seconds=0", "reset_retries=1",
             "reset_retry_ms=10"]
    lines.append("allocation=" + rng.choice(["pack", "spread"]))
    lines.append("release_driver=" + rng.choice(["restore", "restore", "vfio-pci"]))
    if rng.random() < 0.3:
        lines.append("manage_plain_hostdevs=true")
    if deny:
        lines.append("deny=" + ";".join(deny) + ";")
    # vgpuctl setup: sriov-manage (the stand-in; the fuzzer's PFs have their
    # VFs enabled already, so it only answers "already") and per-GPU sections
    lines.append("sriov_manage=@SRC@/tests/sriov-manage-sim")
    if rng.random() < 0.1:
        lines += ['[resource "example.com/a10"]', "kind=passthrough", "selector=10de:2236"]
    for a in sorted(a for a, v in (devs or {}).items() if v["kind"] == "pf"):
        if rng.random() < 0.5:
            lines.append('[gpu "%s"]' % a)
            if rng.random() < 0.7:
                lines.append("vfs=enabled")
            if rng.random() < 0.5:
                lines.append("vgpu_mode=" + rng.choice(["equal", "mixed"]))
    return "\n".join(lines) + "\n"


def xml_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;").replace('"', "&quot;"))


def hostdev_pci(addr, alias):
    src = ("<source><address domain='0x0000' bus='0x%s' slot='0x%s' function='0x%s'/></source>"
           % (addr[5:7], addr[8:10], addr[11]))
    return "<hostdev mode='subsystem' type='pci' managed='no'>%s<alias name='%s'/></hostdev>" % (
        src, alias)


def variant(rng, name):
    """Another name libvirt tells apart from @name (a trimmed or folded
    comparison would not)."""
    return rng.choice([" " + name, name + " ", "\t" + name, name + "\t", " " + name + " ",
                       name.upper(), name + "\u200b", name.strip(), name + ".pid", "." + name])


def gen_domain(rng, n, devs, prev=None):
    name = variant(rng, prev["name"]) if prev and rng.random() < 0.6 else rng.choice(ODD_NAMES)
    uid = str(uuid_mod.UUID(int=rng.getrandbits(128), version=4))
    if prev and rng.random() < 0.5:
        # a twin: the same devices as the previous domain, another name
        head, rest = prev["xml"].split("</uuid>", 1)
        return {"name": name, "xml": "<domain type='kvm'><name>%s</name><uuid>%s</uuid>%s"
                % (xml_escape(name), uid, rest)}
    meta, hds = [], []
    addrs = sorted(devs)
    for i in range(rng.choice([1, 1, 1, 2])):
        alias = "ua-gpu%d" % (0 if rng.random() < 0.1 else i)
        if rng.random() < 0.6:
            # well formed: a device of the host and its resource, which
            # the hook should prepare when nobody else holds it
            pick = rng.choice([a for a in addrs if devs[a]["kind"] in ("gpu", "vf",
                                                                        "mdevparent")])
            kind = devs[pick]["kind"]
            res = {"gpu": "nvidia.com/GA102GL_A10",
                   "vf": rng.choice(["nvidia.com/L40S-24Q"] * 3 + ["nvidia.com/L40S-1Q"]),
                   "mdevparent": rng.choice(["nvidia.com/GRID_T4-1Q",
                                             "nvidia.com/GRID_T4-16Q"])}[kind]
            meta.append('<vgpu:device alias="%s" resource="%s"/>' % (alias, res))
            if kind == "mdevparent":
                hds.append("<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>"
                           "<address uuid='%s'/></source><alias name='%s'/></hostdev>"
                           % (rng.choice(MDEV_UUIDS), alias))
            else:
                hds.append(hostdev_pci(pick, alias))
            continue
        res = rng.choice(RESOURCES)
        meta.append('<vgpu:device alias="%s" resource="%s"/>' % (alias, res))
        r = rng.random()
        if r < 0.05:
            continue  # a named device without a hostdev
        if "T4-" in res and rng.random() < 0.8:
            hds.append("<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>"
                       "<address uuid='%s'/></source><alias name='%s'/></hostdev>"
                       % (rng.choice(MDEV_UUIDS), alias))
            continue
        if r < 0.1:
            hds.append("<hostdev mode='subsystem' type='pci' managed='no'><alias name='%s'/>"
                       "</hostdev>" % alias)
            continue
        want = {"A10": "gpu", "L40S-": "vf", "GRID": "mdevparent", "AD102": "pf",
                "TU104": "mdevparent"}
        kind = next((k for w, k in want.items() if w in res), None)
        fit = [a for a in addrs if devs[a]["kind"] == kind]
        pick = rng.choice(fit if fit and rng.random() < 0.85 else addrs)
        hds.append(hostdev_pci(pick, alias))
    if rng.random() < 0.1:
        meta.append('<x:device xmlns:x="urn:other:1" alias="ua-gpu0" resource="%s"/>'
                    % rng.choice(RESOURCES))
    foreign = ('<o:devices xmlns:o="urn:other:2"><o:device alias="ua-gpu1" '
               'resource="nvidia.com/L40S-24Q"/></o:devices>' if rng.random() < 0.1 else "")
    xml = ("<domain type='kvm'><name>%s</name><uuid>%s</uuid><metadata>"
           '<vgpu:devices xmlns:vgpu="urn:vgpu-hook:1">%s</vgpu:devices>%s</metadata>'
           "<memory unit='GiB'>4</memory><os><type arch='x86_64'>hvm</type></os>"
           "<devices>%s</devices></domain>\n"
           % (xml_escape(name), uid, "".join(meta), foreign, "".join(hds)))
    return {"name": name, "xml": xml}


def gen_step(rng, ndom, devs):
    d = rng.randrange(ndom)
    ops = [("start", 20), ("stop", 12), ("crash", 3), ("migrate", 3), ("restore", 3),
           ("reconnect", 3), ("ctl-prepare", 4), ("ctl-release", 4), ("rewrite", 3),
           ("define", 3), ("bind", 4), ("unbind", 4), ("apply", 4), ("reconcile", 5),
           ("prune", 2), ("damage", 4), ("lose-state", 1), ("setup", 2)]
    op = rng.choices([o for o, _ in ops], [w for _, w in ops])[0]
    step = {"op": op, "dom": d, "pick": rng.randrange(1000)}
    if op in ("bind", "unbind"):
        step["addr"] = rng.choice(sorted(devs) + ["0000:ff:00.0"])
    elif op in ("apply", "setup"):
        vfs = [a for a, v in devs.items() if v["kind"] == "vf"]
        if op == "setup":
            step["dry"] = rng.random() < 0.3
        step["lines"] = ["%s=%s" % (rng.choice(vfs + ["0000:3b:00.0"]),
                                    rng.choice(["L40S-24Q", "L40S-1Q", "L40S-48Q"]))
                         for _ in range(rng.randint(1, 2))]
    elif op == "damage":
        step["how"] = rng.choice(["garbage", "truncate", "fifo", "symlink", "rename",
                                  "domain", "lockfifo", "leasesfile", "devzero", "device"])
    elif op == "reconcile":
        step["dry"] = rng.random() < 0.2
    if op in ("start", "stop", "ctl-prepare", "ctl-release", "bind", "unbind", "apply", "setup",
              "reconcile", "migrate", "restore") and rng.random() < 0.25:
        step["fault"] = "%s:%d" % (rng.choice(FAULT_POINTS), rng.randint(1, 2))
    return step


def gen_episode(seed):
    rng = random.Random(seed)
    ini, devs, deny = gen_host(rng)
    config = gen_config(rng, deny, devs)
    doms = []
    for i in range(rng.randint(2, 5)):
        d = gen_domain(rng, i, devs, doms[-1] if doms else None)
        if all(d["name"] != o["name"] for o in doms) and d["name"]:
            doms.append(d)
    steps = [gen_step(rng, len(doms), devs) for _ in range(rng.randint(30, 90))]
    return {"seed": seed, "host": ini, "devices": devs, "deny": deny, "config": config,
            "domains": doms, "steps": steps}


def keyfile_unescape(v):
    """A GKeyFile string value as g_key_file_get_string() returns it."""
    out, i = [], 0
    esc = {"s": " ", "t": "\t", "n": "\n", "r": "\r", "\\": "\\"}
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v) and v[i + 1] in esc:
            out.append(esc[v[i + 1]])
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


# ------------------------------------------------------------- violation ----

class Violation(Exception):
    def __init__(self, inv, msg):
        super().__init__("%s: %s" % (inv, msg))
        self.inv = inv


# ------------------------------------------------------------- execution ----

class Runner:
    """Plays one episode on a fresh simulated host, checking after every step."""

    def __init__(self, tools, case, keep_tmp=False, log=None, enabled=None):
        self.t = tools
        self.enabled = enabled or ENABLED
        self.ignored = {}
        self.stats = {"kills": 0, "refusals": 0, "started": 0, "damaged": 0}
        self.case = case
        self.log = log
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="vh-lifecycle."))
        self.keep = keep_tmp
        self.live = os.path.join(self.tmp, "live")
        self.sys = os.path.join(self.live, "sys")
        self.state = os.path.join(self.live, "state")
        self.run = os.path.join(self.live, "run")
        self.dev = os.path.join(self.live, "dev")
        # the persistent vGPU type cache ([host] cache_dir): ours, like state
        self.cache = os.path.join(self.live, "cache")
        self.wlog = os.path.join(self.tmp, "writelog")
        self.conf = os.path.join(self.tmp, "vgpu-hook.conf")
        self.cwd = os.path.join(self.tmp, "cwd")
        self.home = os.path.join(self.tmp, "home")
        self.devs = case["devices"]
        self.running = {}     # name -> {"devices": [...], "snap": {...}}
        self.xml = [d["xml"] for d in case["domains"]]
        self.names = [d["name"] for d in case["domains"]]
        self.calls = 0

    def viol(self, inv, msg):
        if inv in self.enabled:
            raise Violation(inv, msg)
        self.ignored[inv] = self.ignored.get(inv, 0) + 1

    def cleanup(self):
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- set-up ----
    def setup(self):
        for d in (self.live, self.run, os.path.join(self.dev, "vfio"), self.state, self.cwd,
                  self.home, os.path.join(self.tmp, "xml")):
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(self.tmp, "pci.ids"), "w") as f:
            f.write(PCI_IDS)
        with open(os.path.join(self.tmp, "secret"), "w") as f:
            f.write(SECRET + " foreign file\n")
        with open(os.path.join(self.tmp, "host.ini"), "w") as f:
            f.write(self.case["host"])
        with open(self.conf, "w") as f:
            f.write(self.case["config"].replace("@LIVE@", self.live).replace("@TMP@", self.tmp)
                    .replace("@SRC@", SRCDIR))
        r = subprocess.run([self.t["fakehost"], os.path.join(self.tmp, "host.ini"), self.sys],
                           capture_output=True, timeout=TIMEOUT_S)
        if r.returncode != 0:
            raise RuntimeError("vh-fakehost: %s" % r.stderr.decode(errors="replace"))
        self.denied = self.denied_set()
        self.pristine_denied = {a: self.dev_state(a) for a in self.denied}

    def denied_set(self):
        """Denied devices with their VFs and IOMMU-group companions."""
        out = set(self.case["deny"])
        for a, d in self.devs.items():
            if d.get("parent") in self.case["deny"]:
                out.add(a)
        groups = {self.devs[a]["group"] for a in out if a in self.devs}
        for a, d in self.devs.items():
            if d["group"] in groups:
                out.add(a)
        return out

    # ---- observing the host ----
    def pci(self, addr):
        return os.path.join(self.sys, "bus/pci/devices", addr)

    def read(self, path):
        try:
            with open(path, "rb") as f:
                return f.read(4096).decode(errors="replace").strip()
        except OSError:
            return None

    def driver(self, addr):
        try:
            return os.path.basename(os.readlink(os.path.join(self.pci(addr), "driver")))
        except OSError:
            return ""

    def mdevs(self):
        try:
            return sorted(os.listdir(os.path.join(self.sys, "bus/mdev/devices")))
        except OSError:
            return []

    def dev_state(self, addr):
        p = self.pci(addr)
        s = {"driver": self.driver(addr), "override": self.read(p + "/driver_override"),
             "type": self.read(p + "/nvidia/current_vgpu_type")}
        if self.devs.get(addr, {}).get("kind") == "mdevparent":
            s["mdevs"] = sorted(m for m in self.mdevs()
                                if os.path.exists(os.path.join(p, m)))
        return s

    def host_state(self):
        s = {a: self.dev_state(a) for a in sorted(self.devs)}
        s["mdevs"] = self.mdevs()
        return s

    def state_files(self):
        out = {}
        for base, dirs, files in os.walk(self.state):
            for f in files + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
                p = os.path.join(base, f)
                rel = os.path.relpath(p, self.state)
                if rel in ("lock", "metrics", "metrics.lock", "metrics.damaged") or \
                        rel.startswith("metrics.") or rel.startswith("gpus/") or \
                        rel.startswith("pci-names.cache"):
                    # bookkeeping (a refusal is counted) and caches of what
                    # the host's files say (type tables, PCI names)
                    continue
                try:
                    st = os.lstat(p)
                    if stat.S_ISREG(st.st_mode):
                        with open(p, "rb") as fh:
                            out[rel] = fh.read(65536)
                    else:
                        out[rel] = "mode %o" % st.st_mode
                except OSError:
                    out[rel] = "gone"
        return out

    def outside_files(self):
        """Every file the tools can see that is neither sysfs nor state."""
        out = {}
        for base, dirs, files in os.walk(self.tmp):
            rel = os.path.relpath(base, self.tmp)
            if rel.split(os.sep)[:2] in (["live", "sys"], ["live", "state"], ["live", "dev"],
                                         ["live", "cache"]) \
                    or rel.startswith("home"):
                dirs[:] = []
                continue
            for f in files + dirs:
                p = os.path.join(base, f)
                relp = os.path.relpath(p, self.tmp)
                if p == self.wlog or relp in ("live/sys", "live/state", "live/dev", "live/cache",
                                              "home"):
                    continue
                try:
                    st = os.lstat(p)
                    # a directory's mtime moves when the state dir is made again
                    out[relp] = (st.st_mode,) if stat.S_ISDIR(st.st_mode) else (
                        st.st_mode, st.st_size, st.st_mtime_ns)
                except OSError:
                    pass
        return out

    def group_members(self, addr):
        g = self.devs.get(addr, {}).get("group")
        return [a for a, d in self.devs.items() if d["group"] == g]

    def running_snapshot(self, devices):
        snap = {}
        for dv in devices:
            if dv.startswith("mdev:"):
                snap[dv] = os.path.isdir(os.path.join(self.sys, "bus/mdev/devices", dv[5:]))
                continue
            for a in self.group_members(dv) + [self.devs.get(dv, {}).get("parent")]:
                if a:
                    st = self.dev_state(a)
                    st.pop("mdevs", None)
                    snap[a] = st
        return snap

    # ---- running tools ----
    def env(self, fault=None):
        e = {"PATH": "/usr/bin:/bin", "HOME": self.home, "XDG_CACHE_HOME": self.home,
             "XDG_CONFIG_HOME": self.home, "XDG_RUNTIME_DIR": self.home, "LANG": "C.UTF-8",
             "LD_PRELOAD": self.t["shim"], "VH_SIM_SYSFS_ROOT": self.sys,
             "VH_SIM_DEV_DIR": self.dev, "VH_SIM_WRITE_LOG": self.wlog,
             "VH_SIM_HOST_INI": os.path.join(self.tmp, "host.ini"),
             "VH_FAKEHOST": self.t["fakehost"]}
        if self.t.get("libpath"):
            e["LD_LIBRARY_PATH"] = self.t["libpath"]
        if fault:
            e["VH_FAULT_KILL_AT"] = fault
        return e

    def call(self, argv, stdin=b"", fault=None, what=""):
        self.calls += 1
        try:
            os.unlink(self.wlog)
        except OSError:
            pass
        before_out = self.outside_files()
        t0 = time.monotonic()
        # unchecked I7: a short bound, so that blocking calls cost little
        bound = TIMEOUT_S if "I7" in self.enabled else 3
        try:
            r = subprocess.run(argv, input=stdin, capture_output=True, cwd=self.cwd,
                               env=self.env(fault), timeout=bound)
        except subprocess.TimeoutExpired:
            self.viol("I7", "%s did not finish within %d s" % (what, bound))
            return 124, b"", b"timeout\n", bound
        dt = time.monotonic() - t0
        rc = r.returncode
        if rc < 0:
            rc = 128 - rc
        self.check_writes(what, before_out)
        for stream in (r.stdout, r.stderr):
            if SECRET.encode() in stream:
                self.viol("I5", "%s quoted a damaged or foreign file: %r"
                                % (what, stream[:300]))
        return rc, r.stdout, r.stderr, dt

    def hook(self, d, op, sub, fault=None, name=None):
        name = self.names[d] if name is None else name
        return self.call([self.t["hook"], "--config", self.conf, name, op, sub, "-"],
                         self.xml[d].encode(), fault, "hook %r %s %s" % (name, op, sub))

    def ctl(self, args, fault=None, stdin=b""):
        return self.call([self.t["ctl"], "--config", self.conf] + args, stdin, fault,
                         "vgpuctl " + " ".join(args))

    def xml_file(self, d):
        p = os.path.join(self.tmp, "xml", "d%d.xml" % d)
        with open(p, "w") as f:
            f.write(self.xml[d])
        return p

    # ---- invariants ----
    def inside(self, path, *dirs):
        return any(path == d or path.startswith(d + "/") for d in dirs)

    def check_writes(self, what, before_out):
        """I4 (and I3 from the write log)."""
        try:
            with open(self.wlog, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            lines = []
        allowed = (self.sys, self.state, self.dev, self.cache)
        for ln in lines:
            parts = ln.split("\t")
            op, path = parts[0], parts[1]
            if path in ("/dev/null", "/dev/tty") or self.inside(path, self.home):
                continue
            if not self.inside(path, *allowed):
                self.viol("I4", "%s: %s %s (outside the sysfs root and state dir)"
                                % (what, op, path))
            if op == "rename" and not self.inside(parts[2], *allowed):
                self.viol("I4", "%s: rename to %s" % (what, parts[2]))
            if op == "store":
                data = parts[2] if len(parts) > 2 else ""
                self.check_denied_store(what, path, data)
                self.check_running_store(what, path, data)
        after = self.outside_files()
        if after != before_out:
            changed = sorted(set(after.items()) ^ set(before_out.items()))
            self.viol("I4", "%s changed files outside sysfs/state: %s" % (what, changed[:4]))

    def check_denied_store(self, what, path, data):
        for a in self.denied:
            if "/" + a + "/" in path or (a in data and path.rsplit("/", 1)[-1] in (
                    "bind", "unbind", "drivers_probe", "new_id", "remove_id")):
                self.viol("I3", "%s wrote %r into %s: %s is denied" % (what, data, path, a))

    def running_objects(self, name):
        """Addresses and mdev UUIDs a store must not touch while @name runs."""
        out = set()
        for dv in self.running[name]["devices"]:
            if dv.startswith("mdev:"):
                out.add(dv[5:])
            else:
                out.update(self.group_members(dv))
                if self.devs.get(dv, {}).get("parent"):
                    out.add(self.devs[dv]["parent"])
        return out

    def check_running_store(self, what, path, data):
        """I2: not even an attempt (the simulated kernel refuses a held VF or
        mdev; a real driver may not) on a running domain's devices, unless the
        state directory was lost (nothing then says who holds what)."""
        leaf = path.rsplit("/", 1)[-1]
        if self.lost or leaf not in ("unbind", "current_vgpu_type", "remove", "sriov_numvfs"):
            return  # only what unbinds, resets or removes
        for name, r in self.running.items():
            if name == self.own or (not self.case.get("strict") and
                                    self.orphans & set(r["devices"])):
                continue
            for o in self.running_objects(name):
                if "/" + o + "/" in path or (o in data and leaf == "unbind"):
                    self.viol("I2", "%s wrote %r into %s, a device of running domain %r"
                              % (what, data, path, name))

    def check_denied_state(self, what):
        for a in self.denied:
            now = self.dev_state(a)
            if now != self.pristine_denied[a]:
                self.viol("I3", "after %s denied %s changed: %s -> %s"
                                % (what, a, self.pristine_denied[a], now))

    def check_running(self, what, own=None):
        """I2: every running domain's devices as when it started."""
        for name, r in self.running.items():
            if name == own or (not self.case.get("strict") and
                               self.orphans & set(r["devices"])):
                continue  # the state directory was lost while it ran
            now = self.running_snapshot(r["devices"])
            if now != r["snap"]:
                diff = {k: (r["snap"].get(k), now.get(k)) for k in set(now) | set(r["snap"])
                        if now.get(k) != r["snap"].get(k)}
                self.viol("I2", "%s changed running domain %r's devices: %s"
                                % (what, name, diff))

    def check_refusal(self, what, rc, err, before_host, before_state, changes_ok=False,
                      lines=1):
        """I5: one line of valid UTF-8 (at most @lines for a batch), nothing changed."""
        self.stats["refusals"] += 1
        try:
            text = err.decode("utf-8")
        except UnicodeDecodeError:
            self.viol("I5", "%s refused (rc %d) with invalid UTF-8: %r" % (what, rc, err))
        if lines is None:  # a report (reconcile, prune): any number of lines
            return
        # Warnings about what was found on the way may precede the refusal.
        body = [l for l in text.split("\n")[:-1] if ": warning: " not in l]
        n = len(body)
        if not text.endswith("\n") or not 1 <= n <= lines or len(text.strip()) == 0:
            self.viol("I5", "%s refused (rc %d) with %d lines: %r"
                            % (what, rc, text.count("\n"), text[:400]))
        if changes_ok:
            return
        if self.host_state() != before_host:
            self.viol("I5", "%s refused (%s) but changed the host" % (what, text.strip()))
        now = self.state_files()
        if now != before_state:
            diff = {k: (before_state.get(k), now.get(k)) for k in set(now) | set(before_state)
                    if now.get(k) != before_state.get(k)}
            self.viol("I5", "%s refused (%s) but changed the state directory: %s"
                            % (what, text.strip(), str(diff)[:600]))

    def domain_devices(self, d):
        """The devices domain d's XML pins: PCI addresses and mdev:UUID."""
        import xml.etree.ElementTree as ET
        try:
            root = ET.fromstring(self.xml[d])
        except ET.ParseError:
            return []
        out = []
        for hd in root.iter("hostdev"):
            a = hd.find("source/address")
            if a is None:
                continue
            if hd.get("type") == "mdev":
                out.append("mdev:" + (a.get("uuid") or ""))
            elif a.get("bus"):
                try:
                    out.append("%04x:%02x:%02x.%x" % (int(a.get("domain", "0"), 16),
                                                      int(a.get("bus"), 16),
                                                      int(a.get("slot"), 16),
                                                      int(a.get("function"), 16)))
                except (TypeError, ValueError):
                    pass
        return out

    def check_i1(self, what, d):
        mine = set(self.domain_devices(d))
        if not self.case.get("strict"):
            mine -= self.orphans
        for name, r in self.running.items():
            if name == self.names[d]:
                continue
            both = mine & set(r["devices"])
            if both:
                self.viol("I1", "%s succeeded for %r on %s, held by running domain %r"
                                % (what, self.names[d], sorted(both), name))

    def accepted(self, what):
        """I6: the state the model accepts after reconcile."""
        groups = {}
        for a, d in self.devs.items():
            groups.setdefault(d["group"], []).append(a)
        for g, members in groups.items():
            drv = {a: self.driver(a) for a in members}
            vfio = [a for a in members if drv[a] == "vfio-pci"]
            host = [a for a in members if drv[a] not in ("vfio-pci", "")]
            if vfio and host:
                self.viol("I6", "after %s + reconcile IOMMU group %d is half bound: %s"
                                % (what, g, drv))
        for a in self.devs:
            if self.read(self.pci(a) + "/driver_override") == "vfio-pci" and \
                    self.driver(a) not in ("vfio-pci",):
                self.viol("I6", "after %s + reconcile %s has driver_override vfio-pci "
                                "but driver %r" % (what, a, self.driver(a)))
        leases = os.path.join(self.state, "leases")
        if os.path.isdir(leases) and not self.damaged:
            for f in os.listdir(leases):
                txt = self.read(os.path.join(leases, f)) or ""
                kv = dict((k, keyfile_unescape(v)) for k, v in
                          (l.split("=", 1) for l in txt.splitlines() if "=" in l))
                if kv.get("state") == "active" and kv.get("domain") not in self.running:
                    self.viol("I6", "after %s + reconcile lease %s is active for %r, "
                                    "which does not run" % (what, f, kv.get("domain")))

    # ---- libvirt's side ----
    def qemu_start(self, d):
        """QEMU opens the devices: fails when one is held or not ready."""
        devices = self.domain_devices(d)
        for dv in devices:
            for r in self.running.values():
                if dv in r["devices"]:
                    return False
            if dv.startswith("mdev:"):
                if not os.path.isdir(os.path.join(self.sys, "bus/mdev/devices", dv[5:])):
                    return False
            elif os.path.isdir(self.pci(dv) + "/nvidia"):
                if self.read(self.pci(dv) + "/nvidia/current_vgpu_type") in (None, "0"):
                    return False
            elif self.driver(dv) != "vfio-pci" or any(
                    self.driver(m) not in ("vfio-pci", "") for m in self.group_members(dv)):
                return False
        name = self.names[d]
        with open(os.path.join(self.run, name + ".pid"), "w") as f:
            f.write("%d\n" % (4000 + d))
        with open(os.path.join(self.run, name + ".xml"), "w") as f:
            f.write(self.xml[d])
        held = os.path.join(self.sys, ".fake-host", "held")
        os.makedirs(held, exist_ok=True)
        for dv in devices:
            open(os.path.join(held, dv[5:] if dv.startswith("mdev:") else dv), "w").close()
        self.running[name] = {"devices": devices, "snap": self.running_snapshot(devices),
                              "d": d}
        self.stats["started"] += 1
        return True

    def qemu_stop(self, name):
        r = self.running.pop(name)
        for suffix in (".pid", ".xml"):
            try:
                os.unlink(os.path.join(self.run, name + suffix))
            except OSError:
                pass
        held = os.path.join(self.sys, ".fake-host", "held")
        for dv in r["devices"]:
            if any(dv in o["devices"] for o in self.running.values()):
                continue
            try:
                os.unlink(os.path.join(held, dv[5:] if dv.startswith("mdev:") else dv))
            except OSError:
                pass

    # ---- steps ----
    def step(self, i, s):
        op, d = s["op"], s["dom"] % len(self.names)
        name = self.names[d]
        what = "step %d %s %r" % (i, op, name)
        # whose devices this step may touch: the domain's own, when it is
        # about that domain (hook, vgpuctl prepare/release of its XML)
        self.own = name if op in ("start", "stop", "crash", "reconnect", "ctl-prepare",
                                  "migrate", "restore") else None
        before_host, before_state = self.host_state(), self.state_files()
        fault = s.get("fault")
        own = None
        rc = None
        if op == "start":
            own = name if name in self.running else None
            if name in self.running:
                return
            rc, out, err, _ = self.hook(d, "prepare", "begin", fault)
            if rc == 0:
                self.check_i1(what, d)
                if not self.qemu_start(d):
                    self.hook(d, "stopped", "end")
                    self.hook(d, "release", "end")
            elif rc == 137:
                if s.get("pick", 0) % 2 == 0:
                    self.hook(d, "release", "end")
            else:
                self.check_refusal(what, rc, err, before_host, before_state)
                if s.get("pick", 0) % 2 == 0:  # libvirt stops what it began
                    self.hook(d, "stopped", "end")
                    self.hook(d, "release", "end")
        elif op in ("stop", "crash"):
            if name not in self.running:
                return
            own = name
            self.qemu_stop(name)
            if op == "stop":
                self.hook(d, "stopped", "end")
                rc, out, err, _ = self.hook(d, "release", "end", fault)
                if rc not in (0, 137):
                    self.check_refusal(what, rc, err, before_host, before_state, True)
        elif op in ("migrate", "restore"):
            rc, out, err, _ = self.hook(d, op, "begin", fault)
            if rc == 0 and out.strip():
                self.xml[d] = out.decode("utf-8", errors="replace")
            elif rc not in (0, 137):
                self.check_refusal(what, rc, err, before_host, before_state)
            if self.host_state() != before_host and rc != 137:
                self.viol("I5", "%s changed the host (a filter must not)" % what)
        elif op == "reconnect":
            if name not in self.running:
                return
            own = name
            rc, out, err, _ = self.hook(d, "reconnect", "begin")
            if rc == 0:  # the hook knows again what the domain holds
                self.orphans -= set(self.running[name]["devices"])
            if rc != 0:  # libvirt kills the domain
                self.qemu_stop(name)
                self.hook(d, "release", "end")
        elif op in ("ctl-prepare", "ctl-release"):
            own = name if op == "ctl-prepare" else None  # release by hand: anyone else
            rc, out, err, _ = self.ctl([op[4:], self.xml_file(d)], fault)
            if rc == 0 and op == "ctl-prepare":
                self.check_i1(what, d)
            elif rc not in (0, 137):
                self.check_refusal(what, rc, err, before_host, before_state)
        elif op in ("rewrite", "define"):
            args = [op, self.xml_file(d)] + (["-c", "test:///default"] if op == "define" else [])
            rc, out, err, _ = self.ctl(args)
            if rc == 0 and op == "rewrite" and out.strip():
                self.xml[d] = out.decode("utf-8", errors="replace")
            elif rc != 0:
                self.check_refusal(what, rc, err, before_host, before_state)
            if self.host_state() != before_host:
                self.viol("I5", "%s changed the host" % what)
        elif op in ("bind", "unbind"):
            what = "step %d vgpuctl %s %s" % (i, op, s["addr"])
            rc, out, err, _ = self.ctl([op, s["addr"]], fault)
            if rc not in (0, 137):
                self.check_refusal(what, rc, err, before_host, before_state)
        elif op == "apply":
            p = os.path.join(self.tmp, "profiles")
            with open(p, "w") as f:
                f.write("\n".join(s["lines"]) + "\n")
            what = "step %d vgpuctl apply-profiles %s" % (i, s["lines"])
            rc, out, err, _ = self.ctl(["apply-profiles", p], fault)
            if rc not in (0, 137):
                # a batch: one line per failed entry and a summary
                self.check_refusal(what, rc, err, before_host, before_state, True,
                                   len(s["lines"]) + 1)
        elif op == "setup":
            p = os.path.join(self.tmp, "profiles")
            with open(p, "w") as f:
                f.write("\n".join(s["lines"]) + "\n")
            what = "step %d vgpuctl setup%s %s" % (i, " --dry-run" if s.get("dry") else "",
                                                   s["lines"])
            rc, out, err, _ = self.ctl(["setup", "--profiles", p] +
                                       (["--dry-run"] if s.get("dry") else []), fault)
            if rc not in (0, 137):
                # steps: one line each on stdout; failures may add a line each
                self.check_refusal(what, rc, err, before_host, before_state, True, None)
            if s.get("dry") and rc != 137 and self.host_state() != before_host:
                self.viol("I5", "%s changed the host" % what)
        elif op == "reconcile":
            what = "step %d vgpuctl reconcile" % i
            rc, out, err, _ = self.ctl(["reconcile", "--offline"] +
                                       (["--dry-run"] if s.get("dry") else []), fault)
            if rc not in (0, 137):
                self.check_refusal(what, rc, err, before_host, before_state, True, None)
            if s.get("dry") and rc == 0 and self.host_state() != before_host:
                self.viol("I5", "%s --dry-run changed the host" % what)
        elif op == "prune":
            what = "step %d vgpuctl leases --prune" % i
            rc, out, err, _ = self.ctl(["leases", "--prune", "-c", "test:///default"])
            if rc != 0:
                self.check_refusal(what, rc, err, before_host, before_state, True, None)
        elif op == "damage":
            self.damage(s)
        elif op == "lose-state":
            shutil.rmtree(self.state, ignore_errors=True)
            self.damaged = self.lost = True
            # Who holds these is now known only to libvirt (its status XML):
            # I1 is not asked for them unless the case says "strict".
            for r in self.running.values():
                self.orphans.update(r["devices"])
        self.check_running(what, own)
        if own in self.running:  # what a domain's own operation did is its business
            self.running[own]["snap"] = self.running_snapshot(self.running[own]["devices"])
        self.check_denied_state(what)
        if rc == 137:
            self.after_kill(what)

    def after_kill(self, what):
        self.stats["kills"] += 1
        rc, out, err, _ = self.ctl(["reconcile", "--offline"])
        if rc != 0 and not self.damaged:
            self.viol("I6", "after %s reconcile failed (rc %d): %s"
                            % (what, rc, err.decode(errors="replace").strip()))
        self.check_running(what + " + reconcile")
        self.accepted(what)

    def damage(self, s):
        leases = os.path.join(self.state, "leases")
        files = sorted(os.listdir(leases)) if os.path.isdir(leases) else []
        how = s["how"]
        self.damaged = True
        self.stats["damaged"] += 1
        if how == "lockfifo":
            p = os.path.join(self.state, "lock")
            try:
                os.unlink(p)
            except OSError:
                pass
            os.makedirs(self.state, exist_ok=True)
            os.mkfifo(p)
            return
        if how == "leasesfile":
            shutil.rmtree(leases, ignore_errors=True)
            os.makedirs(self.state, exist_ok=True)
            with open(leases, "w") as f:
                f.write(SECRET + "\n")
            return
        if not files:
            return
        p = os.path.join(leases, files[s["pick"] % len(files)])
        if how in ("garbage", "truncate", "fifo", "symlink", "devzero"):
            os.unlink(p) if os.path.islink(p) or not os.path.isdir(p) else shutil.rmtree(p)
        if how == "garbage":
            with open(p, "wb") as f:
                f.write(b"\xff\xfe" + SECRET.encode() + b"\n\x00state=active\n")
        elif how == "truncate":
            open(p, "w").close()
        elif how == "fifo":
            os.mkfifo(p)
        elif how == "symlink":
            os.symlink(os.path.join(self.tmp, "secret"), p)
        elif how == "devzero":
            os.symlink("/dev/zero", p)
        elif how == "rename":
            others = [a for a in sorted(self.devs) if a not in files]
            if others:
                os.rename(p, os.path.join(leases, others[s["pick"] % len(others)]))
        elif how in ("domain", "device"):
            if not stat.S_ISREG(os.lstat(p).st_mode):
                return  # a FIFO would block us
            try:
                with open(p, encoding="utf-8", errors="surrogateescape") as f:
                    txt = f.read(65536)
            except OSError:
                return
            key = "domain=" if how == "domain" else "device="
            new = (self.names[s["pick"] % len(self.names)] if how == "domain"
                   else sorted(self.devs)[s["pick"] % len(self.devs)])
            if how == "domain":
                # A lease that names another domain, well formed, cannot be
                # told from a true one without libvirt: its device is
                # judged leniently, as after a lost state directory.
                for l in txt.splitlines():
                    if l.startswith(("device=", "mdev_uuid=")):
                        v = l.split("=", 1)[1]
                        self.orphans.add(("mdev:" + v) if l.startswith("mdev") else v)
            lines = [key + new if l.startswith(key) else l for l in txt.splitlines()]
            with open(p, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write("\n".join(lines) + "\n")

    def play(self, steps, deadline=None):
        """Run @steps (until @deadline, a time.monotonic()); return None or the
        Violation."""
        self.damaged = self.lost = False
        self.own = None
        self.orphans = set()
        self.setup()
        try:
            for i, s in enumerate(steps):
                if deadline is not None and time.monotonic() > deadline:
                    break
                self.played = i + 1
                if self.log:
                    self.log(i, s)
                self.step(i, s)
        except Violation as v:
            return v
        return None


# --------------------------------------------------------------- driver ----

def find_tools(builddir):
    b = os.path.realpath(builddir)
    t = {"fakehost": os.path.join(b, "tests/vh-fakehost"),
         "shim": os.path.join(b, "tests/.libs/libsimkernel.so"),
         "hook": os.path.join(b, "vgpu-hook"), "ctl": os.path.join(b, "vgpuctl")}
    if os.access(os.path.join(b, ".libs/vgpu-hook"), os.X_OK):
        t["hook"] = os.path.join(b, ".libs/vgpu-hook")
        t["ctl"] = os.path.join(b, ".libs/vgpuctl")
        t["libpath"] = os.path.join(b, "plugin/.libs")
    for k in ("fakehost", "shim", "hook", "ctl"):
        if not os.path.exists(t[k]):
            sys.exit("lifecycle: %s is missing: build first (make check)" % t[k])
    try:
        with open(os.path.join(b, "config.h")) as f:
            t["faults"] = "#define VH_FAULT_INJECTION 1" in f.read()
    except OSError:
        t["faults"] = False
    return t


def play_case(tools, case, steps=None, enabled=None, deadline=None):
    r = Runner(tools, case, enabled=enabled)
    try:
        v = r.play(case["steps"] if steps is None else steps, deadline)
        return v, r.calls
    finally:
        r.cleanup()


def shrink(tools, case, inv, budget_s):
    """Delta debugging over the step list: the smallest list still violating @inv."""
    steps = list(case["steps"])
    deadline = time.monotonic() + budget_s
    n = 2
    while len(steps) >= 2 and time.monotonic() < deadline:
        chunk = max(1, len(steps) // n)
        reduced = False
        for start in range(0, len(steps), chunk):
            if time.monotonic() >= deadline:
                break
            trial = steps[:start] + steps[start + chunk:]
            v, _ = play_case(tools, case, trial)
            if v is not None and v.inv == inv:
                steps = trial
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(n * 2, len(steps))
    return steps


def describe(case, steps):
    lines = ["host:"] + ["  " + l for l in case["host"].splitlines()]
    lines += ["deny: %s" % case["deny"], "domains:"]
    lines += ["  %d %r: %s" % (i, d["name"], d["xml"].strip()) for i, d in enumerate(case["domains"])]
    lines += ["steps:"] + ["  %s" % json.dumps(s) for s in steps]
    return "\n".join(lines)


def report(tools, case, v, args):
    print("lifecycle: VIOLATION in episode seed %d: %s" % (case["seed"], v), flush=True)
    steps = case["steps"]
    if args.shrink_seconds > 0:
        steps = shrink(tools, case, v.inv, args.shrink_seconds)
        v2, _ = play_case(tools, case, steps)
        if v2 is not None:
            v = v2
        print("lifecycle: shrunk to %d of %d steps: %s" % (len(steps), len(case["steps"]), v))
    small = dict(case, steps=steps, violation=str(v), expect="pass")
    os.makedirs(args.save_dir, exist_ok=True)
    path = os.path.join(args.save_dir, "seed-%d-%s.json" % (case["seed"], v.inv))
    with open(path, "w") as f:
        json.dump(small, f, indent=1, ensure_ascii=True)
        f.write("\n")
    print(describe(case, steps))
    print("lifecycle: reproduce: fuzz/lifecycle.py --builddir %s --replay %s"
          % (args.builddir, path))
    print("lifecycle: or: fuzz/lifecycle.py --builddir %s --episode-seed %d"
          % (args.builddir, case["seed"]))


def replay_dir(tools, d):
    """Kept cases: 'expect' is pass, or 'fail I<n>' (a known, unfixed violation)."""
    bad = 0
    for f in sorted(os.listdir(d)):
        if not f.endswith(".json"):
            continue
        with open(os.path.join(d, f)) as fh:
            case = json.load(fh)
        v, _ = play_case(tools, case, enabled=list(ALL_INVARIANTS))
        expect = case.get("expect", "pass")
        if expect == "pass":
            ok = v is None
            print("%s: regression %s%s" % ("PASS" if ok else "FAIL", f, "" if ok else ": %s" % v))
        else:
            ok = v is not None and v.inv == expect.split()[1]
            print("%s: regression %s (expected failure %s)%s"
                  % ("XFAIL" if ok else "XPASS", f, expect.split()[1],
                     "" if ok else ": fixed? set \"expect\": \"pass\"" if v is None
                     else ": now %s" % v))
            ok = True  # a fixed known case does not fail the run
        bad += 0 if ok else 1
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builddir", default=os.environ.get("top_builddir", "_build"))
    ap.add_argument("--seconds", type=float,
                    default=float(os.environ.get("VH_FUZZ_LIFECYCLE_SECONDS", 60)))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--episode-seed", type=int, default=None)
    ap.add_argument("--replay", default=None)
    ap.add_argument("--regressions", default=None)
    ap.add_argument("--save-dir", default=os.environ.get("VH_FUZZ_LIFECYCLE_SAVE",
                                                          tempfile.gettempdir()))
    ap.add_argument("--shrink-seconds", type=float, default=120)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--minimize", action="store_true",
                    help="with --replay: shrink the case again and save it")
    ap.add_argument("--invariants", default=os.environ.get("VH_FUZZ_LIFECYCLE_INVARIANTS",
                                                           ",".join(ALL_INVARIANTS)),
                    help="comma-separated invariants to check (default all: I1,...,I7)")
    args = ap.parse_args()
    ENABLED[:] = [i.strip() for i in args.invariants.split(",") if i.strip()]
    if not ENABLED or any(i not in ALL_INVARIANTS for i in ENABLED):
        ap.error("--invariants: a comma-separated subset of " + ",".join(ALL_INVARIANTS))
    tools = find_tools(args.builddir)
    if not tools["faults"]:
        print("SKIP: lifecycle: this build has no fault points; configure with "
              "--enable-fault-injection")
        return 77
    if args.regressions:
        bad = replay_dir(tools, args.regressions)
        if bad:
            return 1
    if args.replay:
        with open(args.replay) as f:
            case = json.load(f)
        r = Runner(tools, case, log=(lambda i, s: print("step", i, json.dumps(s)))
                   if args.verbose else None)
        v = r.play(case["steps"])
        r.cleanup()
        print("lifecycle: replay %s: %s" % (args.replay, v or "no violation"))
        if v and args.minimize:
            report(tools, case, v, args)
        return 1 if v else 0
    if args.episode_seed is not None:
        case = gen_episode(args.episode_seed)
        v, calls = play_case(tools, case)
        if v:
            report(tools, case, v, args)
            return 1
        print("lifecycle: episode seed %d: %d steps, %d calls, no violation"
              % (args.episode_seed, len(case["steps"]), calls))
        return 0
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    if os.environ.get("VH_FUZZ_LIFECYCLE_SEED") and args.seed is None:
        seed = int(os.environ["VH_FUZZ_LIFECYCLE_SEED"])
    print("lifecycle: seed %d, %g s, invariants %s (reproduce: --seed %d)"
          % (seed, args.seconds, ",".join(ENABLED), seed), flush=True)
    rng = random.Random(seed)
    end = time.monotonic() + args.seconds
    episodes = steps = calls = 0
    totals = {}
    while time.monotonic() < end:
        case = gen_episode(rng.getrandbits(32))
        r = Runner(tools, case)
        try:
            v = r.play(case["steps"], end)
        finally:
            r.cleanup()
        c = r.calls
        episodes += 1
        steps += getattr(r, "played", 0)
        for k, n in r.stats.items():
            totals[k] = totals.get(k, 0) + n
        calls += c
        if v:
            print("lifecycle: seed %d: violation after %d episodes, %d steps, %d calls"
                  % (seed, episodes, steps, calls))
            report(tools, case, v, args)
            return 1
    print("lifecycle: seed %d: %d episodes, %d steps, %d calls (%s), no violation"
          % (seed, episodes, steps, calls,
             ", ".join("%d %s" % (n, k) for k, n in sorted(totals.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
