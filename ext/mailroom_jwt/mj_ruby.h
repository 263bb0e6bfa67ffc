/* Private to the bindings: the files that include ruby.h. */
#ifndef MJ_RUBY_H
#define MJ_RUBY_H

/* Ruby's own headers have unused parameters; -Wextra stays on for ours. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <ruby.h>
#include <ruby/encoding.h>
#pragma GCC diagnostic pop
#include "mj_core.h"

/* ruby_json.c */

/* The Hash that JSON.parse makes of a strict JSON object (json has passed
 * mj_json_object_check, or this returns its status in *status and Qnil).
 * *duplicate is set when an object anywhere repeats a name. */
MJ_HIDDEN VALUE mj_rb_json_object(const unsigned char *json, size_t len, int *status,
                                  int *duplicate);

/* JSON.generate(hash) written into buf, for the payloads it can write
 * byte for byte alike, with none of the encode rules broken; -1 for any
 * other (the caller takes the general path, which applies the rules and
 * reports errors). */
MJ_HIDDEN long mj_rb_json_generate(VALUE hash, char *buf, size_t cap);

/* Called once from Init_mailroom_jwt. */
MJ_HIDDEN void mj_rb_json_init(void);

#endif
