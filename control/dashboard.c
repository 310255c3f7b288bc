// SPDX-License-Identifier: GPL-2.0
#include "dashboard.h"

/* Generated from control/dashboard.html by control/dashboard.cmake: dashboard_html[]. */
#include "dashboard_html.h"

const void *dashboard__html(size_t *len)
{
	*len = sizeof(dashboard_html);
	return dashboard_html;
}
