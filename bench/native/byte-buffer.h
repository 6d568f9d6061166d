/* A growable byte buffer for the presence clients' sockets, the text frames they send, and the messages they receive. */
#ifndef CINDER_LOAD_BYTE_BUFFER_H
#define CINDER_LOAD_BYTE_BUFFER_H

#include <stddef.h>

typedef struct { char *data; size_t len, cap; } byte_buffer;

/* Appends n bytes (grows by doubling; exits when memory runs out). */
void byte_buffer_append(byte_buffer *b, const char *d, size_t n);

/* Writes what the non-blocking fd takes now; the rest stays for later. */
void byte_buffer_flush(byte_buffer *b, int fd);

/* Queues text as one masked WebSocket text frame (at most 1,000 bytes) and flushes. */
void send_text_frame(byte_buffer *out, int fd, const char *text, size_t len);

/* What decode_messages calls for each whole message (a fragmented one once reassembled). */
typedef void (*message_handler)(void *context, const char *payload, size_t len);

/* Handles the complete frames in [data, data + len), reassembling fragments in frag; returns the
 * bytes they took. *closed is set (and all of len taken) on a close frame or a framing error. */
size_t decode_messages(const char *data, size_t len, byte_buffer *frag, message_handler on_message, void *context, int *closed);

#endif
