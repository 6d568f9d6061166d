#include "wsframe.h"

#include <stdio.h>
#include <string.h>

static uint32_t mask_state = 0x9e3779b9u;

/* xorshift: masks need not be secret for a load client, only present. */
static uint32_t next_mask(void) {
    mask_state ^= mask_state << 13;
    mask_state ^= mask_state >> 17;
    mask_state ^= mask_state << 5;
    return mask_state;
}

size_t ws_encode(uint8_t opcode, const char *payload, size_t len, char *out) {
    size_t h = 0;
    out[h++] = (char)(0x80 | opcode);
    if (len < 126) {
        out[h++] = (char)(0x80 | len);
    } else if (len < 65536) {
        out[h++] = (char)(0x80 | 126);
        out[h++] = (char)(len >> 8);
        out[h++] = (char)len;
    } else {
        out[h++] = (char)(0x80 | 127);
        for (int i = 7; i >= 0; i--) out[h++] = (char)((uint64_t)len >> (8 * i));
    }
    uint32_t m = next_mask();
    uint8_t key[4] = {(uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), (uint8_t)(m >> 24)};
    memcpy(out + h, key, 4);
    h += 4;
    for (size_t i = 0; i < len; i++) out[h + i] = (char)(payload[i] ^ key[i & 3]);
    return h + len;
}

int ws_decode(const char *buf, size_t avail, ws_frame *f) {
    if (avail < 2) return 0;
    const uint8_t *b = (const uint8_t *)buf;
    size_t h = 2;
    uint64_t len = b[1] & 0x7f;
    if (b[1] & 0x80) return -1; /* servers never mask */
    if (len == 126) {
        if (avail < 4) return 0;
        len = ((uint64_t)b[2] << 8) | b[3];
        h = 4;
    } else if (len == 127) {
        if (avail < 10) return 0;
        len = 0;
        for (int i = 0; i < 8; i++) len = (len << 8) | b[2 + i];
        h = 10;
        if (len > (1u << 30)) return -1;
    }
    if (avail < h + len) return 0;
    f->fin = (b[0] & 0x80) != 0;
    f->opcode = b[0] & 0x0f;
    f->payload = buf + h;
    f->len = (size_t)len;
    f->frame_len = h + (size_t)len;
    return 1;
}

int ws_handshake_request(char *out, size_t cap, const char *host, int port, const char *path) {
    /* A fixed key is fine: the client checks the 101 status, not the accept hash. */
    return snprintf(out, cap,
                    "GET %s HTTP/1.1\r\n"
                    "Host: %s:%d\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    "\r\n",
                    path, host, port);
}
