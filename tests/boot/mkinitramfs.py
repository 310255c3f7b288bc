#!/usr/bin/python3
"""Writes a newc cpio initramfs: /dev, /dev/console (char 5:1) and /init.

A device node in the archive needs no root privileges this way, unlike
mknod + cpio. Usage: mkinitramfs.py INIT_BINARY OUTPUT
"""
import os
import stat
import sys


def entry(out, ino, name, mode, data=b"", rdev=(0, 0)):
    name_b = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0]
    out.write(b"070701" + b"".join(b"%08x" % f for f in fields))
    out.write(name_b)
    out.write(b"\0" * ((4 - (110 + len(name_b)) % 4) % 4))
    out.write(data)
    out.write(b"\0" * ((4 - len(data) % 4) % 4))


def main():
    init, output = sys.argv[1], sys.argv[2]
    with open(init, "rb") as f:
        init_data = f.read()
    with open(output, "wb") as out:
        entry(out, 1, "dev", stat.S_IFDIR | 0o755)
        entry(out, 2, "dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
        entry(out, 3, "init", stat.S_IFREG | 0o755, init_data)
        entry(out, 0, "TRAILER!!!", 0)
    os.chmod(output, 0o644)


if __name__ == "__main__":
    main()
