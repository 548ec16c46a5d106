# Imported by the uwsgi APIs (`--pyimport`, in each worker before it loads the app): while two
# containers of one API listen on the same port (osctl's overlap swap, uwsgi reuse-port), the one
# that listened first gets every new connection until it closes. Without it the kernel spreads
# connections over both sockets by hash, and those hashed to the next container, whose workers
# are still importing the app, wait for that load (seconds) before a worker accepts them.
#
# How: a classic BPF program on the port's SO_REUSEPORT group (any member may set it; it holds for
# the whole group) that always answers index 0, the group's oldest socket. When that one closes,
# the kernel moves the remaining socket into its slot, so the next container takes over at once.
# Best effort: on failure the kernel keeps spreading by hash, as before, and the log says why.
import ctypes
import os
import socket
import sys

SO_ATTACH_REUSEPORT_CBPF = 51


class _Insn(ctypes.Structure):
    _fields_ = [('code', ctypes.c_ushort), ('jt', ctypes.c_ubyte), ('jf', ctypes.c_ubyte), ('k', ctypes.c_uint32)]


class _Prog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.POINTER(_Insn))]


def _listening_reuseport_fds():
    for name in os.listdir('/proc/self/fd'):
        try:
            fd = os.dup(int(name))
        except (OSError, ValueError):
            continue
        try:
            s = socket.socket(fileno=fd)
        except OSError:  # not a socket
            os.close(fd)
            continue
        try:
            if (s.type == socket.SOCK_STREAM and s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                    and s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)):
                yield s
        finally:
            s.close()


def attach():
    insns = (_Insn * 1)(_Insn(0x06, 0, 0, 0))  # BPF_RET | BPF_K, 0
    prog = _Prog(1, insns)
    done = 0
    for s in _listening_reuseport_fds():
        s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, bytes(prog))
        done += 1
    return done


try:
    if attach() == 0:
        print('osctl: uwsgi_first_listener: no listening SO_REUSEPORT socket found', file=sys.stderr)
except Exception as err:  # noqa: BLE001 - never stop the app for this
    print(f'osctl: uwsgi_first_listener: {err}', file=sys.stderr)
