/* Minimal RFC 6455 client framing: masked frames out, unmasked frames in. */
#ifndef CINDER_LOAD_WSFRAME_H
#define CINDER_LOAD_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

enum { WS_CONT = 0, WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };

/* Writes a masked frame header + payload into out (capacity >= len + 14). Returns bytes written. */
size_t ws_encode(uint8_t opcode, const char *payload, size_t len, char *out);

typedef struct {
    int fin;
    uint8_t opcode;
    const char *payload;
    size_t len;
    size_t frame_len;  /* header + payload */
} ws_frame;

/* 1 = one complete frame parsed, 0 = need more bytes, -1 = protocol error. */
int ws_decode(const char *buf, size_t avail, ws_frame *f);

/* Builds the upgrade request. Returns its length. */
int ws_handshake_request(char *out, size_t cap, const char *host, int port, const char *path);

#endif
