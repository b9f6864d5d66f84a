"""CURVE keys for serving beyond loopback: generation (`--gen-keys DIR`) and loading (`--keys DIR`).

Layout of DIR:
  server/server.key, server/server.key_secret      the server's key pair
  clients/client.key, clients/client.key_secret    a client key pair (give it to the learner)
  authorized_clients/*.key                         public keys the server accepts (add more here)
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def endpoint_needs_curve(endpoint: str) -> bool:
    """True for TCP endpoints that are not bound to a loopback address."""
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://") :].rsplit(":", 1)[0]
    return host not in LOOPBACK_HOSTS and not host.startswith("127.")


def generate_keys(directory: Path, client_name: str = "client") -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    server_dir, clients_dir, auth_dir = directory / "server", directory / "clients", directory / "authorized_clients"
    for d in (server_dir, clients_dir, auth_dir):
        d.mkdir(exist_ok=True)
        os.chmod(d, 0o700)
    if (server_dir / "server.key_secret").exists():
        raise FileExistsError(f"{server_dir / 'server.key_secret'} exists; refusing to overwrite keys")
    server_public, server_secret = zmq.auth.create_certificates(str(server_dir), "server")
    client_public, client_secret = zmq.auth.create_certificates(str(clients_dir), client_name)
    shutil.copy(client_public, auth_dir / f"{client_name}.key")
    for secret in (server_secret, client_secret):
        os.chmod(secret, stat.S_IRUSR | stat.S_IWUSR)
    return {
        "serverPublic": str(server_public),
        "serverSecret": str(server_secret),
        "clientPublic": str(client_public),
        "clientSecret": str(client_secret),
        "authorizedClients": str(auth_dir),
    }


def key_permission_warnings(directory: Path) -> list[str]:
    """What is wrong with the permissions of a keys dir: a secret key readable by others (group or world),
    or a dir that others can write to (they could swap the server key or add client keys) or that
    belongs to another user. One message per problem, each saying how to fix it."""
    out: list[str] = []
    uid = os.getuid()
    dirs = [directory, directory / "server", directory / "authorized_clients"]
    for d in dirs:
        try:
            st = d.stat()
        except OSError:
            continue
        if st.st_mode & 0o022:
            out.append(f"{d} is writable by other users (mode {stat.S_IMODE(st.st_mode):o}); run: chmod go-w {d}")
        elif st.st_mode & 0o077 and d != directory / "authorized_clients":
            out.append(f"{d} is open to other users (mode {stat.S_IMODE(st.st_mode):o}); run: chmod 700 {d}")
        if st.st_uid != uid:
            out.append(f"{d} belongs to another user (uid {st.st_uid}); keys should belong to the server's user")
    for secret in sorted(directory.glob("server/*.key_secret")):
        try:
            st = secret.stat()
        except OSError:
            continue
        if st.st_mode & 0o077:
            out.append(
                f"secret key {secret} can be read or changed by other users (mode {stat.S_IMODE(st.st_mode):o}); "
                f"run: chmod 600 {secret}"
            )
    return out


def load_server_keys(directory: Path) -> tuple[bytes, bytes]:
    secret_file = directory / "server" / "server.key_secret"
    if not secret_file.exists():
        raise FileNotFoundError(f"no server secret key at {secret_file} (create keys with --gen-keys DIR)")
    public, secret = zmq.auth.load_certificate(str(secret_file))
    if secret is None:
        raise ValueError(f"{secret_file} holds no secret key")
    return public, secret


def start_authenticator(ctx: zmq.Context[zmq.Socket[bytes]], directory: Path) -> ThreadAuthenticator:
    """ZAP handler that accepts only the public keys in DIR/authorized_clients (without one, libzmq
    accepts any client key)."""
    auth_dir = directory / "authorized_clients"
    if not auth_dir.is_dir() or not any(auth_dir.glob("*.key")):
        raise FileNotFoundError(f"no authorized client keys (*.key) in {auth_dir}")
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(auth_dir))
    return auth
