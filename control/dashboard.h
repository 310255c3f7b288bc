/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The live reclamation dashboard (GET /dashboard): one self-contained HTML
 * page, control/dashboard.html, compiled into the binary (control/dashboard.cmake),
 * so it needs no files and no network. It polls GET /dashboard/data.
 */
#ifndef MINI_VMM_DASHBOARD_H
#define MINI_VMM_DASHBOARD_H

#include <stddef.h>

/* The page's bytes (not NUL-terminated) and their count. */
const void *dashboard__html(size_t *len);

#endif
