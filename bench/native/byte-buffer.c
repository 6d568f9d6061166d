#include "byte-buffer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsframe.h"

void byte_buffer_append(byte_buffer *b, const char *d, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n) cap *= 2;
        b->data = realloc(b->data, cap);
        if (!b->data) { perror("realloc"); exit(2); }
        b->cap = cap;
    }
    memcpy(b->data + b->len, d, n);
    b->len += n;
}

void byte_buffer_flush(byte_buffer *b, int fd) {
    while (b->len > 0) {
        ssize_t k = write(fd, b->data, b->len);
        if (k <= 0) return;
        memmove(b->data, b->data + k, b->len - (size_t)k);
        b->len -= (size_t)k;
    }
}

void send_text_frame(byte_buffer *out, int fd, const char *text, size_t len) {
    char frame[1024];
    size_t n = ws_encode(WS_TEXT, text, len, frame);
    byte_buffer_append(out, frame, n);
    byte_buffer_flush(out, fd);
}

size_t decode_messages(const char *data, size_t len, byte_buffer *frag, message_handler on_message, void *context, int *closed) {
    size_t off = 0;
    *closed = 0;
    while (off < len) {
        ws_frame f;
        int r = ws_decode(data + off, len - off, &f);
        if (r == 0) break;
        if (r < 0 || f.opcode == WS_CLOSE) { *closed = 1; return len; }
        if (f.opcode == WS_TEXT || f.opcode == WS_BINARY) {
            if (f.fin) on_message(context, f.payload, f.len);
            else { frag->len = 0; byte_buffer_append(frag, f.payload, f.len); }
        } else if (f.opcode == WS_CONT) {
            byte_buffer_append(frag, f.payload, f.len);
            if (f.fin) { on_message(context, frag->data, frag->len); frag->len = 0; }
        }
        off += f.frame_len;
    }
    return off;
}
