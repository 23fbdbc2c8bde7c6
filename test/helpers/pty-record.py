"""Runs a command in a pseudo-terminal of a given size and records what it prints, as a person's terminal gets it.

usage: pty-record.py <cols> <rows> <transcript.jsonl> <command> [args...]

Each chunk read from the terminal is one JSON line {"t": <ms since epoch>, "d": <base64 bytes>}. Exits with the
command's exit code (128 + signal when killed). Python's standard pty module: no native npm package needed.
"""
import base64
import fcntl
import json
import os
import pty
import struct
import sys
import termios
import time


def main() -> int:
    cols, rows, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    argv = sys.argv[4:]
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(sys.stdout.fileno(), termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.environ["COLUMNS"] = str(cols)
        os.execvp(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    with open(out, "w") as f:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            f.write(json.dumps({"t": time.time() * 1000, "d": base64.b64encode(data).decode()}) + "\n")
            f.flush()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
