/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Moved to base/log.h (issue 15). Only control/ still includes it by this
 * name; remove this file once control/ includes "base/log.h".
 */
#include "base/log.h"
