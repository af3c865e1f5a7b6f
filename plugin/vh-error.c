/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vh-error.h"

G_DEFINE_QUARK(vh-error-quark, vh_error)
