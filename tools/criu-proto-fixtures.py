#!/usr/bin/python3
"""Writes src/criu/fixtures/*.hex: criu RPC messages encoded by pycriu's
rpc_pb2 (Debian: criu, python3-protobuf), the golden bytes that
src/criu/proto.rs's unit tests compare nook's own encoder and decoder with.

    usage: /usr/bin/python3 tools/criu-proto-fixtures.py
"""
import os
from pycriu import rpc_pb2 as rpc

out = os.path.join(os.path.dirname(__file__), "..", "src", "criu", "fixtures")


def write(name, msg):
    with open(os.path.join(out, name + ".hex"), "w") as f:
        f.write(msg.SerializeToString().hex() + "\n")


# A dump as nook sends it: every option it may set.
req = rpc.criu_req(type=rpc.DUMP)
o = req.opts
o.images_dir_fd = 4
o.pid = 4242
o.leave_running = True
o.ext_unix_sk = False
o.tcp_established = True
o.shell_job = False
o.file_locks = True
o.log_level = 4
o.log_file = "dump.log"
o.notify_scripts = True
o.root = "/var/lib/bundle/rootfs"
o.parent_img = "../pre"
o.track_mem = True
o.auto_dedup = True
o.work_dir_fd = 5
o.ext_mnt.add(key="/out", val="/out")
o.ext_mnt.add(key="/proc/kcore", val="/dev/null")
o.manage_cgroups = True
o.manage_cgroups_mode = rpc.SOFT
o.external.append("net[4026531992]:extRootNetNS")
o.empty_ns = 0x40000000
o.freeze_cgroup = "/sys/fs/cgroup/freezer/nook/c1"
o.orphan_pts_master = True
write("dump_req", req)

# A restore: sibling, cgroup roots, inherited fds, LSM options, status fd.
req = rpc.criu_req(type=rpc.RESTORE)
o = req.opts
o.images_dir_fd = 4
o.work_dir_fd = 5
o.evasive_devices = True
o.log_level = 4
o.log_file = "restore.log"
o.notify_scripts = True
o.root = "/run/nook/c1/criu-root"
o.ext_mnt.add(key="/out", val="/tmp/out")
o.manage_cgroups = True
o.cg_root.add(ctrl="memory", path="/nook/c1")
o.cg_root.add(path="/nook/c1")
o.rst_sibling = True
o.inherit_fd.add(key="pipe:[12345]", fd=1)
o.inherit_fd.add(key="extRootNetNS", fd=7)
o.manage_cgroups_mode = rpc.STRICT
o.status_fd = -1
o.orphan_pts_master = True
o.lsm_profile = "apparmor:nook-default"
o.lsm_mount_context = "system_u:object_r:container_file_t:s0"
write("restore_req", req)

write("notify_req", rpc.criu_req(type=rpc.NOTIFY, notify_success=True))
write("version_req", rpc.criu_req(type=rpc.VERSION))
write("pre_dump_req", rpc.criu_req(type=rpc.PRE_DUMP, opts=rpc.criu_opts(images_dir_fd=3, track_mem=True)))

resp = rpc.criu_resp(type=rpc.NOTIFY, success=True)
resp.notify.script = "post-restore"
resp.notify.pid = 31337
write("notify_resp", resp)

resp = rpc.criu_resp(type=rpc.DUMP, success=True)
resp.dump.restored = False
write("dump_resp", resp)

resp = rpc.criu_resp(type=rpc.RESTORE, success=True)
resp.restore.pid = 31337
write("restore_resp", resp)

resp = rpc.criu_resp(type=rpc.DUMP, success=False, cr_errno=3, cr_errmsg="No such process")
write("failed_resp", resp)

resp = rpc.criu_resp(type=rpc.VERSION, success=True)
resp.version.major_number = 3
resp.version.minor_number = 17
resp.version.sublevel = 1
resp.version.gitid = "v3.17.1"
write("version_resp", resp)
