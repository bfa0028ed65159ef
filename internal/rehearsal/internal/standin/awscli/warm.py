# A warm start for the real AWS CLI, for rehearsals.
#
# Importing the CLI costs most of its ~0.5 s start. This server imports Debian's
# awscli once, then forks a child per call that runs the CLI's own entry point
# (awscli.clidriver.AWSCLIEntryPoint().main, what /usr/bin/aws runs) with the
# caller's arguments, environment, working directory and standard streams. The
# CLI's code, models, parsing and output are untouched; only the import is shared.
#
# The server also creates the CLI's driver once, ahead of time, under the
# environment every rehearsal call shares (argv[2], JSON: config files, data
# path, pager): building the command table and reading the ECR and ECS models is
# most of what is left of a start. A call whose environment has those same
# values runs on a fork of that driver (AWSCLIEntryPoint(driver)); any other
# call, or one with --debug, creates its own, as /usr/bin/aws does. Region,
# credentials and endpoint are read per call from the call's own environment
# and arguments; the driver reads none of them before it runs.
#
# Protocol, on the Unix socket given as argv[1]: the client sends one JSON
# message {"args": [...], "env": {...}, "dir": "..."} with its stdin, stdout and
# stderr attached (SCM_RIGHTS), and reads back the exit status as a decimal line.
# The server exits when its own stdin closes (the test process that started it
# ended), removing its socket and the socket's directory.
import array
import json
import os
import select
import socket
import sys

if os.environ.get('LC_CTYPE', '') == 'UTF-8':
    os.environ['LC_CTYPE'] = 'en_US.UTF-8'
import awscli  # noqa: E402
import awscli.clidriver  # noqa: E402  (the expensive part, done once)

AWSCLI_DATA = os.path.join(os.path.dirname(os.path.abspath(awscli.__file__)), 'data')


def recv(conn):
    fds = array.array('i')
    data = b''
    while not data.endswith(b'\n'):
        msg, anc, _, _ = conn.recvmsg(1 << 20, socket.CMSG_SPACE(3 * fds.itemsize))
        if not msg:
            break
        data += msg
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    return json.loads(data), list(fds)


def data_path(value):
    """AWS_DATA_PATH as importing awscli leaves it (awscli/__init__.py): the
    given paths, then the CLI's own data."""
    paths = [os.path.expanduser(os.path.expandvars(p))
             for p in value.split(os.pathsep) if p]
    return os.pathsep.join(paths + [AWSCLI_DATA])


STATIC = {}
PREPARED = None


def prepare(static):
    global STATIC, PREPARED
    STATIC = static
    os.environ.update(static)
    os.environ['AWS_DATA_PATH'] = data_path(static.get('AWS_DATA_PATH', ''))
    driver = awscli.clidriver.create_clidriver()
    driver.create_help_command()  # builds the command table
    for service in ('ecr', 'ecs'):
        driver.session.get_service_model(service)
    PREPARED = driver


def child(req, fds):
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.environ.clear()
    os.environ.update(req['env'])
    if os.environ.get('LC_CTYPE', '') == 'UTF-8':
        os.environ['LC_CTYPE'] = 'en_US.UTF-8'
    driver = None
    if PREPARED is not None and '--debug' not in req['args'] and all(
            os.environ.get(k) == v for k, v in STATIC.items()):
        driver = PREPARED
    os.environ['AWS_DATA_PATH'] = data_path(os.environ.get('AWS_DATA_PATH', ''))
    os.chdir(req['dir'])
    sys.argv = ['aws'] + req['args']
    rc = 255
    try:
        rc = awscli.clidriver.AWSCLIEntryPoint(driver).main(req['args'])
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 255
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc if isinstance(rc, int) else 255)


def main():
    path = sys.argv[1]
    if len(sys.argv) > 2:
        prepare(json.loads(sys.argv[2]))
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(64)
    print('ready', flush=True)
    waiting = {}  # pidfd -> (pid, conn)
    while True:
        ready, _, _ = select.select([srv, sys.stdin] + list(waiting), [], [])
        for r in ready:
            if r is sys.stdin:
                if not os.read(sys.stdin.fileno(), 1024):
                    # The test process ended: leave nothing behind.
                    os.unlink(path)
                    try:
                        os.rmdir(os.path.dirname(path))
                    except OSError:
                        pass
                    return
            elif r is srv:
                conn, _ = srv.accept()
                try:
                    req, fds = recv(conn)
                except Exception as e:  # a broken client: tell it, go on
                    conn.sendall(('255 %s\n' % e).encode())
                    conn.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    srv.close()
                    conn.close()
                    child(req, fds)
                for fd in fds:
                    os.close(fd)
                waiting[os.pidfd_open(pid)] = (pid, conn)
            else:
                pid, conn = waiting.pop(r)
                os.close(r)
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                if code < 0:
                    code = 128 - code
                try:
                    conn.sendall(b'%d\n' % code)
                except OSError:
                    pass
                conn.close()


if __name__ == '__main__':
    main()
