"""Accepted keys and mine answers for many minions, written on a master the way the
master writes them, for the cached report at 1,000 and 10,000 minions (bench/cached.py):

  keys     a file per minion in the master's pki dir, minions/<id>, holding a public
           key in PEM, as the master leaves an accepted key (so that targets resolve);
  answers  each minion's mine data stored by the master's own code path for a minion's
           `_mine` request, salt.daemons.masterapi.RemoteFuncs._mine, through the
           master's cache backend (its option `cache`: localfs, redis, ...), in the bank
           and key the running Salt release uses.

    python bench/cache_writer.py CONFIG_DIR ANSWER_JSON FIRST LAST

writes minions bench-FIRST .. bench-LAST (numbered from 1). ANSWER_JSON is one answer of
assist.mine_audit; each minion's copy is taken now (`taken`: the time it is stored), as
a minion's answer is when it reaches the master. One public key serves every minion: the
master reads a minion's key only when that minion authenticates, which these never do.

Run in a process of its own, so that the master's loaders stay out of the bench's.
"""

import datetime
import json
import os
import sys

MINE_FUNCTION = "assist.mine_audit"


def minion_id(number):
    return f"bench-{number:05d}"


def public_key_pem():
    """One RSA public key in PEM, as a minion sends it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def accept_keys(pki_dir, ids, pem):
    """The accepted keys' files, each written whole and renamed into place."""
    folder = os.path.join(pki_dir, "minions")
    os.makedirs(folder, exist_ok=True)
    for minion in ids:
        path = os.path.join(folder, minion)
        with open(path + ".new", "wb") as handle:
            handle.write(pem)
        os.rename(path + ".new", path)


def store_answers(opts, ids, answer):
    """Each minion's answer, stored as the master stores a minion's mine data."""
    import salt.daemons.masterapi

    funcs = salt.daemons.masterapi.RemoteFuncs(opts)
    for minion in ids:
        taken = datetime.datetime.now(datetime.timezone.utc).isoformat()
        if not funcs._mine({"id": minion, "data": {MINE_FUNCTION: {**answer, "taken": taken}}}):
            raise RuntimeError(f"the master's _mine refused {minion}'s answer")


def main(argv):
    config_dir, answer_path, first, last = argv
    import salt.config

    opts = salt.config.master_config(os.path.join(config_dir, "master"))
    with open(answer_path) as handle:
        answer = json.load(handle)
    ids = [minion_id(number) for number in range(int(first), int(last) + 1)]
    accept_keys(opts["pki_dir"], ids, public_key_pem())
    store_answers(opts, ids, answer)
    print(json.dumps({"written": len(ids), "cache": opts.get("cache", "localfs")}))


if __name__ == "__main__":
    main(sys.argv[1:])
