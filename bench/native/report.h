/* Turns the broadcast table of one round into figures. */
#ifndef CINDER_LOAD_REPORT_H
#define CINDER_LOAD_REPORT_H

#include <stdint.h>

#include "shared.h"

typedef struct {
    int inflight;
    long first_id, end_id;           /* broadcasts [first_id, end_id) belong to this round */
    uint64_t window_start, window_end;
    uint64_t deliveries;             /* inside the window */
    long completed_in_window;
    double client_cpu_s;             /* all worker processes, inside the window */
    uint64_t missing;                /* expected deliveries that never arrived (whole round) */
    long incomplete;                 /* broadcasts with at least one missing delivery */
    double p50_us, p90_us, p99_us, max_us, mean_us;
} round_result;

/* Fills completed_in_window, latencies, missing and incomplete from the slots. */
void summarize_round(const shared_state *sh, round_result *r);

void print_round_json(const round_result *r, int last);

#endif
