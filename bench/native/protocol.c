#define _GNU_SOURCE
#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Body marker: "M<id>.<send_ns>." then padding. The id indexes the broadcast table. */
static const char BODY_KEY[] = "\"body\":\"M";

/* Finds the 'M' that follows "body":" — cheaper than memmem, this runs once per delivery. */
static long parse_body_id(const char *s, size_t len) {
    const size_t key = sizeof BODY_KEY - 2; /* without the M */
    const char *end = s + len;
    const char *p = s + key;
    while (p < end && (p = memchr(p, 'M', (size_t)(end - p))) != NULL) {
        if (memcmp(p - key, BODY_KEY, key) == 0) {
            long id = 0;
            for (p++; p < end && *p >= '0' && *p <= '9'; p++) id = id * 10 + (*p - '0');
            return id;
        }
        p++;
    }
    return -1;
}

/* Reads one element of a JSON array of strings/nulls; returns pointer after it and the string span. */
static const char *json_element(const char *p, const char *end, const char **str, size_t *slen) {
    while (p < end && (*p == ' ' || *p == ',' || *p == '[')) p++;
    *str = NULL;
    *slen = 0;
    if (p >= end) return end;
    if (*p == 'n') return p + 4 <= end ? p + 4 : end;
    if (*p != '"') return end;
    const char *q = ++p;
    while (q < end && *q != '"') q += (*q == '\\') ? 2 : 1;
    *str = p;
    *slen = (size_t)(q - p);
    return q < end ? q + 1 : end;
}

static int span_is(const char *s, size_t n, const char *lit) {
    return s && strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static const char BROADCAST_PREFIX[] = "[null,null,\"";
static const char NEW_MSG_INFIX[] = "\",\"new_msg\",";

static void classify_phoenix(const char *s, size_t len, inbound *in) {
    const char *end = s + len;
    /* Fast path for the common case, a broadcast: [null,null,"<topic>","new_msg",{...}] */
    const size_t pl = sizeof BROADCAST_PREFIX - 1, il = sizeof NEW_MSG_INFIX - 1;
    if (len > pl && memcmp(s, BROADCAST_PREFIX, pl) == 0) {
        const char *q = memchr(s + pl, '"', len - pl);
        if (q && (size_t)(end - q) > il && memcmp(q, NEW_MSG_INFIX, il) == 0) {
            in->kind = IN_DELIVERY;
            in->broadcast_id = parse_body_id(q + il, (size_t)(end - q - il));
            return;
        }
    }
    const char *join_ref, *ref, *topic, *event;
    size_t jl, rl, tl, el;
    const char *p = json_element(s, end, &join_ref, &jl);
    p = json_element(p, end, &ref, &rl);
    p = json_element(p, end, &topic, &tl);
    p = json_element(p, end, &event, &el);
    if (span_is(event, el, "new_msg")) {
        in->kind = IN_DELIVERY;
        in->broadcast_id = parse_body_id(p, (size_t)(end - p));
        return;
    }
    if (span_is(event, el, "phx_reply") && span_is(topic, tl, "phoenix")) {
        if (memmem(p, (size_t)(end - p), "\"status\":\"ok\"", 13)) in->kind = IN_HEARTBEAT_OK;
        return;
    }
    if (span_is(event, el, "phx_reply") && ref) {
        long r = strtol(ref, NULL, 10);
        if (r > 0 && r < PUSH_REF_BASE) {
            in->ref = r;
            in->kind = memmem(p, (size_t)(end - p), "\"status\":\"ok\"", 13) ? IN_JOIN_OK : IN_JOIN_ERROR;
        }
    }
}

static void classify_engineio(const char *s, size_t len, inbound *in) {
    if (len == 0) return;
    if (s[0] == '0') { in->kind = IN_EIO_OPEN; return; }
    if (s[0] == '2') { in->kind = IN_EIO_PING; return; }
    if (s[0] != '4' || len < 2) return;
    switch (s[1]) {
    case '0': in->kind = IN_EIO_CONNECTED; return;
    case '4': in->kind = IN_EIO_REFUSED; return;
    case '2':
        if (len > 12 && memcmp(s + 2, "[\"new_msg\"", 10) == 0) {
            in->kind = IN_DELIVERY;
            in->broadcast_id = parse_body_id(s, len);
        }
        return;
    case '3':
        in->kind = IN_JOIN_OK;
        in->ref = strtol(s + 2, NULL, 10);
        return;
    default: return;
    }
}

void classify_inbound(enum protocol p, const char *s, size_t len, inbound *in) {
    in->kind = IN_OTHER;
    in->ref = 0;
    in->broadcast_id = -1;
    if (p == PROTO_PHOENIX) classify_phoenix(s, len, in);
    else classify_engineio(s, len, in);
}

int encode_join(enum protocol p, char *out, size_t cap, const char *topic, long ref, const char *params) {
    if (p == PROTO_PHOENIX)
        return snprintf(out, cap, "[\"%ld\",\"%ld\",\"%s\",\"phx_join\",%s]", ref, ref, topic, params);
    return snprintf(out, cap, "42%ld[\"join\",\"%s\"]", ref, topic);
}

int encode_publish(enum protocol p, char *out, size_t cap, const char *topic, long join_ref, long ref,
                   long broadcast_id, unsigned long long send_ns, int body_size) {
    char body[60001];
    int n = snprintf(body, sizeof body, "M%ld.%llu.", broadcast_id, send_ns);
    if (n < body_size) {
        memset(body + n, 'x', (size_t)(body_size - n));
        n = body_size;
    }
    body[n] = 0;
    if (p == PROTO_PHOENIX)
        return snprintf(out, cap, "[\"%ld\",\"%ld\",\"%s\",\"new_msg\",{\"body\":\"%s\"}]", join_ref, ref, topic,
                        body);
    return snprintf(out, cap, "42[\"new_msg\",{\"topic\":\"%s\",\"body\":\"%s\"}]", topic, body);
}

int encode_heartbeat(enum protocol p, char *out, size_t cap, long ref) {
    if (p == PROTO_PHOENIX) return snprintf(out, cap, "[null,\"%ld\",\"phoenix\",\"heartbeat\",{}]", ref);
    return 0; /* engine.io: the server pings, the client only answers */
}
