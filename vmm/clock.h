/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Moved to base/clock.h (issue 15). Only control/ still includes it by this
 * name; remove this file once control/ includes "base/clock.h".
 */
#include "base/clock.h"
