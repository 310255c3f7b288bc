// SPDX-License-Identifier: GPL-2.0
/*
 * The route table: every path the control API serves, the methods it
 * takes, and whether it is a control path (the API socket only) or a
 * read-only page (both listeners). Routing answers 404 and 405 (with
 * Allow:) before any body is read; the handlers are in handlers_*.c and
 * dashboard.c.
 */
#include "control/api_internal.h"

#include <string.h>

static const struct api_route routes[] = {
	{"/", M_GET, true, .get = api_get_instance},
	{"/vm", M_GET | M_PATCH, true, .get = api_get_vm, .patch = api_patch_vm},
	{"/actions", M_PUT, true, .put = api_put_actions},
	{"/balloon", M_GET | M_PUT | M_PATCH, true, .get = api_get_balloon, .put = api_put_balloon,
	 .patch = api_patch_balloon},
	{"/balloon/statistics", M_GET | M_PATCH, true, .get = api_get_balloon_statistics,
	 .patch = api_patch_balloon_statistics},
	{"/balloon/reporting", M_GET, true, .get = api_get_balloon_reporting},
	{"/machine-config", M_GET | M_PUT | M_PATCH, true, .get = api_get_machine_config,
	 .put = api_put_machine_config, .patch = api_patch_machine_config},
	{"/boot-source", M_PUT, true, .put = api_put_boot_source},
	{"/vm/config", M_GET, true, .get = api_get_vm_config},
	{"/version", M_GET, true, .get = api_get_version},
	{"/balloon/hinting/start", M_PATCH, true, .patch = api_patch_balloon_hinting_start},
	{"/balloon/hinting/status", M_GET, true, .get = api_get_balloon_hinting_status},
	{"/balloon/hinting/stop", M_PATCH, true, .patch = api_patch_balloon_hinting_stop},
	{"/metrics", M_GET, false, .get = api_get_metrics},
	{"/dashboard", M_GET, false, .get = api_get_dashboard},
	{"/dashboard/data", M_GET, false, .get = api_get_dashboard_data},
};

/* On the metrics listener, "/" leads a browser to the dashboard. */
static const struct api_route metrics_root = {"/", M_GET, false, .get = api_get_root_redirect};

static const char *allow_header(unsigned int methods)
{
	static const char *const allow[8] = {
		[M_GET] = "GET, HEAD",
		[M_PUT] = "PUT",
		[M_PATCH] = "PATCH",
		[M_GET | M_PUT] = "GET, HEAD, PUT",
		[M_GET | M_PATCH] = "GET, HEAD, PATCH",
		[M_PUT | M_PATCH] = "PUT, PATCH",
		[M_GET | M_PUT | M_PATCH] = "GET, HEAD, PUT, PATCH",
	};

	return allow[methods & 7];
}

static unsigned int method_bit(const char *method)
{
	if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
		return M_GET;
	if (strcmp(method, MHD_HTTP_METHOD_PUT) == 0)
		return M_PUT;
	if (strcmp(method, MHD_HTTP_METHOD_PATCH) == 0)
		return M_PATCH;
	return 0;
}

/* Route the request; false after filling a 404 or 405 reply. */
bool api_routes__route(struct api_request *req, const char *url, const char *method,
		       struct api_reply *r)
{
	const struct api_route *route = NULL;

	if (req->l->kind == LISTENER_METRICS && strcmp(url, "/") == 0)
		route = &metrics_root;
	for (unsigned int i = 0; !route && i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(url, routes[i].path) == 0)
			route = &routes[i];
	if (!route) {
		api_reply__error(r, 404, "no such endpoint: %.128s", url);
		return false;
	}
	if (route->control && req->l->kind != LISTENER_API) {
		api_reply__error(r, 404, "%.128s is served on the API socket (--api-socket) only",
				 url);
		return false;
	}
	req->route = route;
	req->method = method_bit(method);
	if (!(req->method & route->methods)) {
		api_reply__error(r, 405, "method %.16s not allowed on %s (allowed: %s)", method,
				 route->path, allow_header(route->methods));
		r->allow = allow_header(route->methods);
		return false;
	}
	return true;
}
