#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ from the test vectors
in tests/vectors (the bytes each vector holds, in the input layout each target documents:
one mode byte, then the bytes), plus a few hand-written answers for the parsers no vector
covers (service-node JSON, community and file-server replies, REST bodies).

Standard library only; run from anywhere: `python3 fuzz/seed.py`. Existing files are kept
(libFuzzer adds its own finds to the same directories); a seed is named by its content hash,
so running it twice writes nothing new.
"""

import base64
import hashlib
import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
CORPUS = ROOT / "fuzz" / "corpus"
SEP = b"\xff\xfe"  # how targets that take several pieces split their input (common::pieces)


def load(name):
    return json.loads((VECTORS / name).read_text())


written = {}


def seed(target, mode, data):
    """Writes one seed: the mode byte, then the bytes."""
    if isinstance(data, str):
        data = data.encode()
    body = bytes([mode]) + data
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ("seed-" + hashlib.sha1(body).hexdigest()[:16])
    if not path.exists():
        path.write_bytes(body)
    written[target] = written.get(target, 0) + 1


def raw(target, data):
    """A seed for a target whose input has no mode byte."""
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ("seed-" + hashlib.sha1(data).hexdigest()[:16])
    if not path.exists():
        path.write_bytes(data)
    written[target] = written.get(target, 0) + 1


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def f64(x):
    return struct.pack(">d", x)


def pad(content):
    """messages.md §3.4 (LSU-new pad_message)."""
    total = len(content) + 1
    total += 160 - total % 160
    return content + b"\x80" + b"\x00" * (total - len(content) - 1)


# --- protobuf, just enough to wrap vector bytes (messages.md §3.1) ---------------------------


def varint(n):
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, value):
    return varint(number << 3 | 2) + varint(len(value)) + value


def envelope(content, timestamp, pro_sig=b"\x07" * 64):
    return (
        field_varint(1, 6)
        + field_varint(5, timestamp)
        + field_varint(7, 1)
        + field_bytes(8, content)
        + field_bytes(11, pro_sig)
    )


def websocket(body):
    request = field_bytes(1, b"") + field_bytes(2, b"") + field_bytes(3, body) + field_varint(4, 0)
    return field_varint(1, 1) + field_bytes(2, request)


def bt_bytes(b):
    return str(len(b)).encode() + b":" + b


# --- padding, bencode, phrases -----------------------------------------------------------------

padding = load("padding.json")
for case in padding["pad"]:
    raw("padding", bytes.fromhex(case["content"]))
    raw("padding", bytes.fromhex(case["padded"]))
for case in padding["unpad"]:
    raw("padding", bytes.fromhex(case["input"]))

configs = load("groups_config.json")
config_messages = []
for section in ("serialization", "example1", "deserialization", "empty", "example2",
                "example3", "example4"):
    for value in configs[section].values():
        if isinstance(value, str) and value.startswith("d"):
            config_messages.append(value.encode("latin-1"))
for value in configs["encodings"].values():
    if isinstance(value, str):
        raw("bencode", value.encode("latin-1"))
keys_vectors = load("groups_keys.json")
keys_messages = [
    base64.b64decode(keys_vectors["oracle"]["rekey"]["message_b64"]),
    base64.b64decode(keys_vectors["oracle"]["supplement"]["message_b64"]),
]
for message in config_messages + keys_messages:
    raw("bencode", message)

identity = load("identity.json")
for case in identity["phrases"]:
    raw("phrase", case["phrase"].encode())
    raw("phrase", bytes.fromhex(case["entropy"]) + b" " + case["phrase"].upper().encode())
for case in identity["word_encodings"]:
    raw("phrase", " ".join(case["words"]).encode())

# --- onion replies and layers ------------------------------------------------------------------

onion = load("onion.json")
node_hex = "ab" * 32
for status, text in ((502, "Next node not found: " + node_hex),
                     (502, "502 Bad Gateway\n\nNext node not found: " + node_hex),
                     (504, "Request time out"), (400, "400 Bad Request\n\nInvalid ciphertext")):
    seed("onion_reply", 0, u16(status * 2) + text.encode())
    seed("onion_reply", 2, u16(status * 2) + text.encode())
for reply in ({"body": "{\"t\":1}", "status": 200}, {"body": {"swarm": {}}, "status_code": 421},
              {"status": 200}):
    seed("onion_reply", 1, json.dumps(reply))
    seed("onion_reply", 0x41, json.dumps(reply))
for v4 in (b'l22:{"code":200,"headers":{}}5:helloe',
           b'l48:{"code":404,"headers":{"content-type":"text/plain"}}e'):
    seed("onion_reply", 3, v4)
    seed("onion_reply", 4, v4)
for case in onion["framing"]:
    seed("onion_reply", 1, case["reply_plaintext"])
    seed("onion_layer", 0, bytes.fromhex(case["wire"]))
    seed("onion_layer", 2, bytes.fromhex(case["wire"]))
for case in onion["inner_requests"]:
    seed("onion_layer", 1, bytes.fromhex(case["plaintext_hex"]))
    seed("onion_layer", 0x81, bytes.fromhex(case["plaintext_hex"]))
for case in onion["url_filter"]["cases"]:
    seed("onion_layer", 6, case["target"])
next_layer = (b"d4:data5:hello8:enc_type7:aes-gcm13:ephemeral_key32:" + b"\x01" * 32
              + b"6:hop_noi2ee")
seed("onion_layer", 3, next_layer)
v4_request = b'{"endpoint":"/file/1","headers":{},"method":"GET"}'
seed("onion_layer", 5, b"l" + bt_bytes(v4_request) + b"e")
seed("onion_layer", 6, b"l" + bt_bytes(v4_request) + bt_bytes(b"body") + b"e")

# --- 1:1 envelopes and Content -----------------------------------------------------------------

communities = load("communities.json")
post_content = bytes.fromhex(communities["post"]["content"])
dm = load("dm.json")["deterministic"][0]
for content in (post_content,):
    seed("envelope", 1, pad(content))
    seed("envelope", 3, u32(0) + pad(content))
    seed("envelope", 0, websocket(envelope(pad(content), 1700000000000)))
seed("envelope", 2, websocket(envelope(bytes.fromhex(dm["ciphertext"]), 1700000000000)))
seed("envelope", 0, websocket(envelope(bytes.fromhex(dm["ciphertext"]), 1700000000000)))
group_message = load("groups_message.json")["group_message"][0]
for case in group_message["cases"]:
    seed("envelope", 4, base64.b64decode(case["plaintext_b64"]))

# --- config messages, group keys and messages --------------------------------------------------

for message in config_messages:
    seed("config_message", 0, message)
    seed("config_message", 1, message)
    seed("config_message", 4, message)
    seed("config_message", 3, b"\x00" * 20 + message)
seed("config_message", 2, SEP.join(config_messages[:3]))
seed("config_message", 0x82, SEP.join(config_messages[-3:]))
multipart = b"m" + b"l" + bt_bytes(b"\x11" * 32) + bt_bytes(b"\x00") + bt_bytes(b"\x02") \
    + bt_bytes(b"d1:#i1e1:&de") + b"e"
seed("config_message", 3, multipart)
for push in load("groups_message.json")["user_groups"]:
    seed("config_message", 4, base64.b64decode(push["push_b64"]))

for message in keys_messages:
    seed("group_keys", 0, message)
    seed("group_keys", 1, message)
for case in group_message["cases"]:
    plaintext = base64.b64decode(case["plaintext_b64"])
    seed("group_keys", 3, plaintext)
    seed("group_keys", 4, base64.b64decode(case["ciphertext_b64"]))
container = b"d0:i1e1:a32:" + b"\x01" * 32 + b"1:d" + bt_bytes(b"payload") + b"1:s64:" \
    + b"\x02" * 64 + b"e"
seed("group_keys", 2, container)

# --- storage RPC answers -----------------------------------------------------------------------

hashes = load("message_hash.json")["vectors"]
messages = [
    {"hash": v["hash"], "timestamp": 1700000000000, "expiration": 1700000600000,
     "data": base64.b64encode(v["data_utf8"].encode()).decode()}
    for v in hashes
]
retrieve = {"messages": messages, "more": False, "t": 1700000000000, "hf": [19, 3]}
batch = {"results": [{"code": 200, "body": retrieve}]}
snode = {"address": "x.snode", "pubkey_legacy": "00" * 32, "pubkey_x25519": "cd" * 32,
         "pubkey_ed25519": "ef" * 32, "port": "22021", "port_https": 22021,
         "port_omq": 22022, "port_quic": 22023, "ip": "10.1.2.3"}
swarm = {"snodes": [snode], "swarm": "1a2b3c4d5e6f7081", "t": 1, "hf": [19, 3]}
store = {"swarm": {"ef" * 32: {"hash": hashes[0]["hash"], "signature": "A" * 86 + "==",
                               "expiry": 5, "t": 1},
                   "aa" * 32: {"failed": True, "timeout": True}},
         "hash": hashes[0]["hash"], "t": 1, "hf": [19, 3]}
seed("storage_response", 1 | 0 << 3, u16(1) + json.dumps(batch).encode())
seed("storage_response", 1 << 3, u16(1) + json.dumps(
    {"results": [{"code": 200, "body": retrieve}, {"code": 421, "body": swarm}]}).encode())
seed("storage_response", 0, u16(406 * 2) + b"timestamp out of range")
seed("storage_response", 1, json.dumps(swarm))
for answer in (retrieve, swarm, store, batch, {"version": [2, 8, 0], "timestamp": 1},
               {"expiries": {hashes[0]["hash"]: 5}}):
    seed("storage_response", 2, json.dumps(answer))
seeds_answer = {"result": {"service_node_states": [
    {"public_ip": "10.1.2.3", "storage_port": 22021, "pubkey_ed25519": "ef" * 32,
     "pubkey_x25519": "cd" * 32, "swarm_id": 7, "height": 1, "requested_unlock_height": 0}]}}
seed("storage_response", 3, json.dumps(seeds_answer))
seed("storage_response", 4, json.dumps(snode))

# --- file server, attachments ------------------------------------------------------------------

for body in ('{"id":"12345"}', '{"id":678}', '{"id":"a/b"}', '{}'):
    seed("file_server", 0, u16(200) + body.encode())
seed("file_server", 0, u16(413) + b"too large")
attachments = load("attachments.json")
for url in ("http://files.example:8080/file/12345", "http://filev2.getsession.org/file/abc",
            "https://files.example/file/9#p=" + "ab" * 32 + "&d",
            "http://files.example:8080/file/x#d"):
    seed("file_server", 1, url)
for case in attachments["legacy"]:
    blob = bytes.fromhex(case["blob"])
    pointer = (varint(1 << 3 | 1) + struct.pack("<Q", 12345)
               + field_bytes(3, bytes.fromhex(case["keys"]))
               + field_varint(4, case["size"])
               + field_bytes(6, bytes.fromhex(case["digest"]))
               + field_bytes(101, b"http://files.example:8080/file/12345"))
    seed("file_server", 2, pointer + SEP + blob)
    seed("attachment", 0, u32(case["size"]) + blob)
    seed("attachment", 1, u32(case["size"]) + blob[:-32])
    seed("attachment", 2, u32(0) + bytes.fromhex(case["plaintext"]))
    seed("attachment", 6, bytes([64]) + blob)
for case in attachments["stream"]:
    blob = bytes.fromhex(case["blob"])
    seed("attachment", 3, blob)
    seed("attachment", 6, bytes([32]) + blob)
    plaintext = bytes.fromhex(case["plaintext"])
    stream_plain = b"\x00" * (case["padding"] - 1) + b"\x01" + plaintext
    spec = b""
    for start in range(0, len(stream_plain), 32768):
        chunk = stream_plain[start:start + 32768]
        last = start + 32768 >= len(stream_plain)
        # The target zero-fills each chunk to its length, so trailing zeros need not be given.
        spec += bytes([3 if last else 0]) + u16(len(chunk)) + chunk.rstrip(b"\x00")
    seed("attachment", 4, spec)
seed("attachment", 4, bytes([3]) + u16(6) + b"\x01hello")
seed("attachment", 4, bytes([0]) + u16(32768) + bytes([3]) + u16(3) + b"\x00\x01x")
for case in attachments["avatar"]:
    seed("attachment", 5, bytes.fromhex(case["blob"]))

# --- community servers -------------------------------------------------------------------------

post = communities["post"]
room_info = {"token": "room", "name": "Room", "info_updates": 3, "message_sequence": 9,
             "active_users": 2, "moderators": ["05" + "aa" * 32], "admins": ["05" + "bb" * 32],
             "read": True, "write": True, "upload": True}
row = {"id": 1, "seqno": 2, "session_id": "15" + "cc" * 32, "posted": 1642472103.5,
       "data": json.loads(post["body"])["data"], "signature": json.loads(post["body"])["signature"],
       "reactions": {"👍": {"count": 2, "reactors": ["05" + "aa" * 32], "you": False}}}
seed("community", 0, u16(200) + json.dumps(room_info).encode())
seed("community", 0, u16(200) + json.dumps([row]).encode())
seed("community", 0, u16(200) + json.dumps({"id": 5, "posted": 1.5, "seqno": 6}).encode())
seed("community", 0, u16(200) + json.dumps(
    [{"id": 1, "posted_at": 1.5, "sender": "15" + "aa" * 32, "recipient": "15" + "bb" * 32,
      "message": "AAAA"}]).encode())
seed("community", 1, json.dumps([{"code": 200, "body": {"details": room_info}},
                                 {"code": 200, "body": [row, {"id": 2, "seqno": 3,
                                                              "deleted": True}]}]))
seed("community", 1 | 1 << 3, json.dumps([{"code": 200, "body": {}}, {"code": 403, "body": ""},
                                          {"code": 200, "body": {}}, {"code": 200, "body": []}]))
sent_s = post["sent_ms"] / 1000
seed("community", 2, f64(sent_s) + pad(post_content))
seed("community", 3, f64(sent_s) + pad(post_content))
seed("community", 2, f64(-1e300) + pad(post_content))
for case in communities["urls"]:
    seed("community", 4, case["url"])
    seed("rest_bodies", 0, json.dumps({"url": case["url"]}))

# --- REST bodies -------------------------------------------------------------------------------

session_id = identity["identities"][0]["session_id"]
group_id = load("groups.json")["group_keys"][0]["group_id"]
bodies = [
    {"display_name": "Alice", "phrase": identity["phrases"][0]["phrase"]},
    {"to": session_id, "text": "hello", "quote": {"id": "msg_1"},
     "attachments": [{"content_type": "image/png", "file_name": "a.png", "data_base64": "AAAA"}]},
    {"emoji": "👍"}, {"scopes": ["admin", "accounts:" + session_id + ":read"]},
    {"url": "https://hooks.example/x", "events": ["message.received"], "accounts": [session_id],
     "enabled": True},
    {"name": "Group", "description": "d", "members": [session_id]},
    {"display_name": None, "status": "disabled", "avatar_base64": None},
    {"up_to": "msg_1"}, {"typing": True}, {"disappearing": {"mode": "after_send", "seconds": 60}},
    {"events": None, "accounts": [session_id]}, {"from": "evt_1"},
    {"members": [session_id], "share_history": True},
    {"name": "n", "disappearing_seconds": 30, "avatar_base64": "AAAA"},
    {"user": session_id, "timeout_seconds": 60},
]
for body in bodies:
    seed("rest_bodies", 0, json.dumps(body, ensure_ascii=False))
for query in ("limit=10&after=MTIzOmFiYw", "with=" + session_id + "&before=msg_1&limit=5",
              "status=failed&limit=3", "after=evt_1&wait=5&account=" + session_id,
              "require=accounts", "delete_messages=true", "health=degraded"):
    seed("rest_bodies", 1, query)
for segment in (session_id, group_id, "15" + "aa" * 32, "http://open.getsession.org/session",
                "https%3A%2F%2Fopen.getsession.org%2Fr%2Fsession", "admin",
                "accounts:" + session_id + ":send", "message.received"):
    seed("rest_bodies", 2, segment)

for target, count in sorted(written.items()):
    print(f"{target}: {count} seeds")
