"""Writes a directory tree as a one-layer docker archive, as `docker save`
writes it (a layer tar, the config, manifest.json), with fixed owners and
times so that the same tree gives the same bytes. The bench scripts build
their scan images with it.

    python3 scripts/dockerarchive.py ROOT OUT.tar TAG
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def write(root, out, tag):
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d, _, fs in sorted(os.walk(root)):
            for f in sorted(fs):
                p = os.path.join(d, f)
                ti = t.gettarinfo(p, os.path.relpath(p, root))
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = ""
                ti.mtime = 0
                with open(p, "rb") as fh:
                    t.addfile(ti, fh)
    lb = layer.getvalue()
    ld = hashlib.sha256(lb).hexdigest()
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + ld]}}).encode()
    cd = hashlib.sha256(cfg).hexdigest()
    with tarfile.open(out, "w") as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        add(ld + "/layer.tar", lb)
        add(cd + ".json", cfg)
        add("manifest.json", json.dumps([{"Config": cd + ".json", "RepoTags": [tag], "Layers": [ld + "/layer.tar"]}]).encode())


if __name__ == "__main__":
    write(*sys.argv[1:4])
