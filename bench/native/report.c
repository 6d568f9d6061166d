#include "report.h"

#include <stdio.h>
#include <stdlib.h>

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, long n, double p) {
    if (n == 0) return 0;
    long i = (long)(p * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

void summarize_round(const shared_state *sh, round_result *r) {
    long n = r->end_id - r->first_id;
    uint64_t *lat = malloc(sizeof(uint64_t) * (size_t)(n > 0 ? n : 1));
    long k = 0;
    double sum = 0;
    r->missing = 0;
    r->incomplete = 0;
    for (long id = r->first_id; id < r->end_id; id++) {
        const broadcast_slot *s = &sh->slots[id];
        uint32_t got = __atomic_load_n(&s->received, __ATOMIC_ACQUIRE);
        if (got < s->expected) {
            r->missing += s->expected - got;
            r->incomplete++;
            continue;
        }
        if (s->send_ns < r->window_start || s->send_ns >= r->window_end) continue;
        lat[k] = s->complete_ns - s->send_ns;
        sum += (double)lat[k];
        k++;
    }
    qsort(lat, (size_t)k, sizeof *lat, cmp_u64);
    r->completed_in_window = k;
    r->p50_us = pct(lat, k, 0.50);
    r->p90_us = pct(lat, k, 0.90);
    r->p99_us = pct(lat, k, 0.99);
    r->max_us = k ? (double)lat[k - 1] / 1000.0 : 0;
    r->mean_us = k ? sum / (double)k / 1000.0 : 0;
    free(lat);
}

void print_round_json(const round_result *r, int last) {
    double window = (double)(r->window_end - r->window_start) / 1e9;
    printf("    {\"inflight\": %d, \"window_s\": %.3f, \"broadcasts\": %ld, \"broadcasts_completed_in_window\": %ld,"
           " \"deliveries\": %llu, \"deliveries_per_s\": %.0f, \"broadcasts_per_s\": %.1f,"
           " \"latency_us\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"max\": %.1f, \"mean\": %.1f},"
           " \"missing\": %llu, \"incomplete_broadcasts\": %ld, \"client_cpu_s\": %.3f}%s\n",
           r->inflight, window, r->end_id - r->first_id, r->completed_in_window,
           (unsigned long long)r->deliveries, window > 0 ? (double)r->deliveries / window : 0,
           window > 0 ? (double)r->completed_in_window / window : 0, r->p50_us, r->p90_us, r->p99_us, r->max_us,
           r->mean_us, (unsigned long long)r->missing, r->incomplete, r->client_cpu_s, last ? "" : ",");
}
