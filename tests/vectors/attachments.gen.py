#!/usr/bin/env python3
"""Regenerates tests/vectors/attachments.json by a second path, independent of our Rust code:
AES-256-CBC / HMAC-SHA256 / AES-256-GCM from `cryptography` (OpenSSL) and
crypto_secretstream_xchacha20poly1305 from PyNaCl (libsodium), following the rules of
shared/protocol/messages.md §4 and §5.2. Random values (the secretstream header) make each run
differ; the committed file is one run. Usage: python3 attachments.gen.py > attachments.json
"""
import hashlib, hmac, json, math
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives import padding as pkcs
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
import nacl.bindings as sodium

DESKTOP = {"repo": "session-foundation/session-desktop"}
PADDING_TS = ("17c842303886da7bdbd95ec8fb96a1fcb4c047a6", "ts/session/crypto/BufferPadding.ts")
ATTACH_TS = ("12e602ae759645831884ad22e59a4d5d21710d54", "ts/util/crypto/attachmentsEncrypter.ts")
PROFILE_TS = ("af6fdefd5baf3355bdf4d9b05865f80145b20a9a", "ts/util/crypto/profileEncrypter.ts")
LSU = {"repo": "session-foundation/libsession-util",
       "commit": "02663c06a2dcd5e814ee39cf33b8589802a0ef23", "file": "src/attachments.cpp"}

def src(base, file, note, commit=None):
    d = dict(base, file=file, note=note)
    if commit: d["commit"] = commit
    return d
def desk(which, note):
    return src(DESKTOP, which[1], note, which[0])

MAX = 10_000_000
def bucket(n):
    return max(541, math.floor(1.05 ** math.ceil(math.log(n) / math.log(1.05)))) if n > 0 else 541
def padded_size(n):
    return min(MAX, bucket(n))

def pattern(n, mul=31, add=7):
    return bytes((i * mul + add) % 251 for i in range(n))

def legacy(plain, keys, iv):
    padded = plain + b"\0" * (padded_size(len(plain)) - len(plain))
    p = pkcs.PKCS7(128).padder(); data = p.update(padded) + p.finalize()
    enc = Cipher(algorithms.AES(keys[:32]), modes.CBC(iv)).encryptor()
    ct = enc.update(data) + enc.finalize()
    mac = hmac.new(keys[32:], iv + ct, hashlib.sha256).digest()
    blob = iv + ct + mac
    return blob, hashlib.sha256(blob).digest()

# --- 'S' deterministic-format stream, encrypted with libsodium ---------------------------------
CHUNK, OVER, HDR = 32768, 17, 24
TOTAL = CHUNK + OVER
def bit_floor(x): return 1 << (x.bit_length() - 1)
def encrypted_padding(n):  # LSU-new attachments.cpp encrypted_padding(), transcribed as rules
    prefix, minpad = 1 + HDR, 1
    chunks = (n + CHUNK - 1) // CHUNK
    enc = n + prefix + minpad + chunks * OVER
    factor = bit_floor(max(enc, 131072)) >> 5
    padded = (enc + factor - 1) // factor * factor
    padding = padded - enc + minpad
    implicit = (padding // TOTAL) * OVER if padding >= TOTAL else 0
    free = chunks * CHUNK - n
    if padding % TOTAL > free: implicit += OVER
    return padding - implicit
def s_encrypt(data, key):
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    p = encrypted_padding(len(data))
    stream = b"\0" * (p - 1) + b"\x01" + data
    out = b"S" + header
    for i in range(0, len(stream), CHUNK):
        last = i + CHUNK >= len(stream)
        tag = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL if last else 0
        out += sodium.crypto_secretstream_xchacha20poly1305_push(state, stream[i:i + CHUNK], None, tag)
    return out, p

keys = bytes(range(64)); iv = bytes(range(0xa0, 0xb0))
vectors = {
    "description": "Attachment and avatar encryption (messages.md §4, §5.2). Every blob was produced by a "
                   "second implementation (tests/vectors/attachments.gen.py: OpenSSL via `cryptography`, "
                   "libsodium via PyNaCl) from the rules in the notes; no repository vector exists.",
    "padded_size": [],
    "legacy": [],
    "stream": [],
    "avatar": [],
}
for n in [0, 1, 540, 541, 542, 1000, 123456, 9_999_999, 10_000_000]:
    vectors["padded_size"].append({
        "source": desk(PADDING_TS, "addAttachmentPadding rule (messages.md §5.2) computed in Python doubles"),
        "len": n, "padded": padded_size(n)})
for text, n in [("hello attachment", None), (None, 1000)]:
    plain = text.encode() if text else pattern(n)
    blob, digest = legacy(plain, keys, iv)
    vectors["legacy"].append({
        "source": desk(ATTACH_TS, "legacy AES-256-CBC+HMAC-SHA256 format of messages.md §5.2 with addAttachmentPadding, encrypted with OpenSSL"),
        "plaintext": plain.hex(), "keys": keys.hex(), "iv": iv.hex(),
        "blob": blob.hex(), "digest": digest.hex(), "size": len(plain)})
skey = bytes(range(0x40, 0x60))
for n in [19, 40000]:
    data = b"hello deterministic" if n == 19 else pattern(n, 13, 5)
    blob, p = s_encrypt(data, skey)
    vectors["stream"].append({
        "source": src(LSU, "src/attachments.cpp", "'S' secretstream format of messages.md §5.2 with encrypted_padding() of this file, encrypted with libsodium (PyNaCl); random header"),
        "key": skey.hex(), "plaintext": data.hex(), "padding": p, "blob": blob.hex()})
akey = bytes(range(0x20, 0x40)); aiv = bytes(range(12))
for text in ["avatar bytes"]:
    ct = AESGCM(akey).encrypt(aiv, text.encode(), None)
    vectors["avatar"].append({
        "source": desk(PROFILE_TS, "avatar AES-256-GCM of messages.md §4 (IV 12 ‖ ct ‖ tag 16), encrypted with OpenSSL"),
        "key": akey.hex(), "plaintext": text.encode().hex(), "blob": (aiv + ct).hex()})
print(json.dumps(vectors, indent=2))
