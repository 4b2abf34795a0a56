#!/usr/bin/env python3
"""Writes the seed corpus of the libFuzzer targets: tests/fuzz/corpus/<target>/<name>.

The seeds are checked in; this script documents how they were made and regenerates them (stdlib
only, deterministic). Seeds are small and meaningful: each one reaches a distinct path (a valid
request of each kind, and the typical ways of getting one wrong), so the fuzzers start deep.

Usage: tests/fuzz/make_corpus.py   (rewrites tests/fuzz/corpus/)
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# Must match kSecret / kRotatedOut in fuzz_token.cpp.
SECRET = b"webim-fuzz-secret-0123456789abcdef"
ROTATED_OUT = b"webim-fuzz-older-secret-0123456789"
FAR_FUTURE = 4102444800  # 2100-01-01; fuzz_token.cpp verifies at 1700000000
MASK = b"\x37\xfa\x21\x3d"


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


# --- fuzz_http_request --------------------------------------------------------------------------
def http_seeds():
    key = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample key
    base = ["Host: chat.example.com", "Upgrade: websocket", "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]

    def req(line, headers, tail=b""):
        return ("\r\n".join([line] + headers) + "\r\n\r\n").encode() + tail

    t = "fuzz_http_request"
    write(t, "upgrade_minimal", req("GET /ws HTTP/1.1", base))
    write(t, "upgrade_browser", req("GET /ws?v=1 HTTP/1.1", [
        "Host: chat.example.com:8443", "Connection: keep-alive, Upgrade", "Pragma: no-cache",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64)", "Upgrade: websocket",
        "Origin: https://example.com", "Sec-WebSocket-Version: 13", "Accept-Encoding: gzip, deflate, br",
        "Cookie: a=1; b=2", f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"]))
    write(t, "upgrade_then_frame", req("GET /ws HTTP/1.1", base, ws_frame(0x1, b"hi")))
    write(t, "upgrade_same_origin", req("GET /ws HTTP/1.1", base + ["Origin: http://chat.example.com"]))
    write(t, "upgrade_origin_denied", req("GET /ws HTTP/1.1", base + ["Origin: https://evil.example"]))
    write(t, "absolute_form", req("GET http://chat.example.com/ws?x=1#f HTTP/1.1", base))
    write(t, "asterisk_form", req("OPTIONS * HTTP/1.1", ["Host: h"]))
    write(t, "health_http10", req("GET /health HTTP/1.0", []))
    write(t, "sse", req("GET /sse?token=abc HTTP/1.1", ["Host: h", "Accept: text/event-stream",
                                                          "Last-Event-ID: 0123456789abcdef:42"]))
    write(t, "post_not_get", req("POST /ws HTTP/1.1", base + ["Content-Length: 0"]))
    write(t, "version_8", req("GET /ws HTTP/1.1", base[:-1] + ["Sec-WebSocket-Version: 8"]))
    write(t, "bad_key", req("GET /ws HTTP/1.1", base[:3] + ["Sec-WebSocket-Key: short", base[4]]))
    write(t, "duplicate_host", req("GET /ws HTTP/1.1", base + ["Host: other"]))
    write(t, "tab_in_value", req("GET /ws HTTP/1.1", base + ["X-A: \tv\t"]))
    write(t, "obs_fold", req("GET /ws HTTP/1.1", base + ["X-A: a", " b"]))
    write(t, "bare_lf", b"GET /ws HTTP/1.1\nHost: h\n\n")
    write(t, "http2_version", req("GET /ws HTTP/2.0", base))
    write(t, "space_before_colon", req("GET /ws HTTP/1.1", ["Host : h"]))


# --- fuzz_ws_frame ------------------------------------------------------------------------------
def ws_frame(opcode, payload, fin=True, mask=MASK, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, 0x80 | n)
    elif n <= 0xFFFF:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    body = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return head + mask + body


def ws_seeds():
    t = "fuzz_ws_frame"
    write(t, "text", ws_frame(0x1, b'{"op":"sub","id":1,"ch":"room:1"}'))
    write(t, "text_empty", ws_frame(0x1, b""))
    write(t, "text_utf8", ws_frame(0x1, "héllo wörld ✓ 😀".encode()))
    write(t, "binary", ws_frame(0x2, bytes(range(64))))
    write(t, "text_len16", ws_frame(0x1, b"x" * 300))
    write(t, "binary_large_whole", ws_frame(0x2, bytes(i % 251 for i in range(3000))))
    write(t, "fragmented_text_with_ping",
          ws_frame(0x1, "frag ".encode() + "😀".encode()[:2], fin=False) + ws_frame(0x9, b"p") +
          ws_frame(0x0, "😀".encode()[2:] + b" mid", fin=False) + ws_frame(0x0, b" end"))
    write(t, "fragmented_binary", ws_frame(0x2, b"a", fin=False) + ws_frame(0x0, b"", fin=False) +
          ws_frame(0x0, b"bc"))
    write(t, "ping_pong", ws_frame(0x9, b"ping!") + ws_frame(0xA, b"pong!") + ws_frame(0x9, b""))
    write(t, "close_normal", ws_frame(0x1, b"bye") + ws_frame(0x8, struct.pack("!H", 1000) + b"done"))
    write(t, "close_empty", ws_frame(0x8, b""))
    write(t, "close_4001", ws_frame(0x8, struct.pack("!H", 4001) + "é".encode()))
    write(t, "close_one_byte", ws_frame(0x8, b"\x03"))
    write(t, "close_bad_code", ws_frame(0x8, struct.pack("!H", 1005)))
    write(t, "text_invalid_utf8", ws_frame(0x1, b"ok \xed\xa0\x80 surrogate"))
    write(t, "text_truncated_utf8", ws_frame(0x1, b"cut \xe2\x82", fin=False) + ws_frame(0x0, b""))
    write(t, "unmasked", b"\x81\x02hi")
    write(t, "rsv_bit", ws_frame(0x1, b"x", rsv=0x40))
    write(t, "unknown_opcode", ws_frame(0x3, b""))
    write(t, "continuation_first", ws_frame(0x0, b"x"))
    write(t, "control_fragmented", ws_frame(0x9, b"x", fin=False))
    write(t, "too_big_declared", struct.pack("!BBQ", 0x82, 0xFF, 1 << 40) + MASK)
    write(t, "non_minimal_length", struct.pack("!BBH", 0x81, 0xFE, 5) + MASK + b"hello")
    many = b"".join(ws_frame(0x1 if i == 0 else 0x0, b"f", fin=False) for i in range(20))
    write(t, "too_many_fragments", many + ws_frame(0x0, b""))
    write(t, "stream_mixed", ws_frame(0x1, b"one") + ws_frame(0x2, b"\x00\x01") + ws_frame(0xA, b"") +
          ws_frame(0x1, b"two", fin=False) + ws_frame(0x0, b"three"))


# --- fuzz_json_request --------------------------------------------------------------------------
def json_seeds():
    t = "fuzz_json_request"
    seeds = {
        "auth": '{"op":"auth","id":1,"token":"eyJhbGciOiJIUzI1NiJ9.e30.sig"}',
        "sub": '{"op":"sub","id":2,"ch":"room:lobby"}',
        "sub_since": '{"op":"sub","id":3,"ch":"room:1","since":{"epoch":"0123456789abcdef","seq":42}}',
        "sub_since_null": '{"op":"sub","id":4,"ch":"dm:1:2","since":null}',
        "unsub": '{"op":"unsub","id":5,"ch":"pub:news"}',
        "pub_object": '{"op":"pub","id":6,"ch":"room:1","cid":"c-1","data":{"text":"hi \\u00e9 \\ud83d\\ude00","n":[1,2.5,-3e7,true,null]}}',
        "pub_string": ' { "id" : 7 , "op" : "pub" , "ch" : "room:1" , "data" : "plain" , "cid" : "x" } ',
        "pub_bigint": '{"op":"pub","id":8,"ch":"room:1","cid":"c","data":123456789012345678901234567890}',
        "pub_nested": '{"op":"pub","id":9,"ch":"room:1","cid":"c","data":[[[{"a":[[]]}]]]}',
        "hist_before": '{"op":"hist","id":10,"ch":"room:1","before":100,"limit":20}',
        "hist_after": '{"op":"hist","id":11,"ch":"room:1","after":0,"limit":200,"before":null}',
        "hist_both": '{"op":"hist","id":12,"ch":"room:1","before":5,"after":1}',
        "hist_limit_zero": '{"op":"hist","id":13,"ch":"room:1","limit":0}',
        "unknown_op": '{"op":"presence","id":14,"extra":{"x":1}}',
        "duplicate_ch": '{"op":"sub","id":15,"ch":"a","ch":"b"}',
        "id_string": '{"op":"sub","id":"16","ch":"a"}',
        "cid_too_long": '{"op":"pub","id":17,"ch":"a","data":1,"cid":"' + "c" * 65 + '"}',
        "escaped_keys": '{"\\u006fp":"unsub","id":-18,"c\\u0068":"room:\\"q\\""}',
        "not_object": '[{"op":"sub"}]',
        "trailing": '{"op":"sub","id":1,"ch":"a"} x',
    }
    for name, text in seeds.items():
        write(t, name, text)
    write(t, "invalid_utf8", b'{"op":"sub","id":1,"ch":"\xc3\x28"}')


# --- fuzz_token ---------------------------------------------------------------------------------
def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(header, claims, secret=SECRET):
    h = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    c = claims if isinstance(claims, str) else json.dumps(claims, separators=(",", ":"))
    signing = b64url(h.encode()) + "." + b64url(c.encode())
    sig = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(sig)


def token_seeds():
    t = "fuzz_token"
    hs = {"alg": "HS256", "typ": "JWT"}
    ok = {"sub": "user:42", "exp": FAR_FUTURE, "ch": ["room:*", "dm:42:*"]}
    write(t, "valid", jwt(hs, ok))
    write(t, "valid_pub_nbf_iat", jwt(hs, {"sub": "u1", "exp": FAR_FUTURE, "nbf": 1699999990, "iat": 1699999990,
                                           "ch": ["*"], "pub": ["room:1"]}))
    write(t, "valid_rotated_secret", jwt({"alg": "HS256"}, ok, ROTATED_OUT))
    write(t, "expired", jwt(hs, {"sub": "u", "exp": 1699999970}))
    write(t, "not_yet_valid", jwt(hs, {"sub": "u", "exp": FAR_FUTURE, "nbf": 1700000031}))
    write(t, "missing_sub", jwt(hs, {"exp": FAR_FUTURE}))
    write(t, "sub_wrong_type", jwt(hs, {"sub": 42, "exp": FAR_FUTURE}))
    write(t, "duplicate_claim", jwt(hs, '{"sub":"a","sub":"b","exp":4102444800}'))
    write(t, "exp_float", jwt(hs, '{"sub":"a","exp":4102444800.5}'))
    write(t, "alg_none", jwt({"alg": "none"}, ok))
    write(t, "typ_wrong", jwt({"alg": "HS256", "typ": "JWS"}, ok))
    write(t, "bad_signature", jwt(hs, ok, b"another-secret-that-is-32-bytes-long!"))
    write(t, "two_parts", jwt(hs, ok).rsplit(".", 1)[0])
    write(t, "padded_base64", jwt(hs, ok) + "=")
    write(t, "empty", "")


def main():
    shutil.rmtree(CORPUS, ignore_errors=True)
    http_seeds()
    ws_seeds()
    json_seeds()
    token_seeds()
    for target in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, target))
        size = sum(os.path.getsize(os.path.join(CORPUS, target, f)) for f in files)
        print(f"{target}: {len(files)} seeds, {size} bytes")


if __name__ == "__main__":
    main()
