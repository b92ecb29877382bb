/* template.h — prompt templates: the placeholder syntax, rendering a
 * template with a job's vars, and applying a template to a job.
 *
 * Syntax: {name} is a placeholder (name of a-z, 0-9, _); {{ and }} stand for
 * literal braces; any other brace is an error. Pure: no I/O, no clock, no
 * globals; safe anywhere, loop callbacks included. Every err buffer may be
 * NULL with errlen 0. */
#ifndef CONF_TEMPLATE_H
#define CONF_TEMPLATE_H

#include <stddef.h>

#include <json-c/json.h>

#include "conf/config.h"
#include "core/limits.h" /* CODEC_MAX_PROMPT */

/* One piece of a prompt: is_var 0 = n bytes of literal text (escapes already
 * reduced to one brace), is_var 1 = a placeholder name of n bytes. s points
 * into the prompt (or at a static brace); it is not NUL-terminated. */
typedef int (*tmpl_piece_fn)(void *ud, int is_var, const char *s, size_t n);

/* Split prompt into pieces in order, calling fn for each. Returns SY_OK; the
 * first SY_ERR from fn (err left to fn); or SY_ERR with a sentence in err
 * ("unclosed '{' at character 12", ...) when the syntax is bad. */
int tmpl_scan(const char *prompt, tmpl_piece_fn fn, void *ud, char *err, size_t errlen);

/* Index of the placeholder name[0..n) in t->vars, or t->n_vars when t has
 * no such placeholder. */
size_t tmpl_var_index(const struct conf_template *t, const char *name, size_t n);

/* Render t with vars (a JSON object of strings and numbers, or NULL;
 * borrowed). Placeholders missing from vars take the template's default;
 * values must be among the placeholder's choices when it has any; extra vars
 * are ignored. The result must hold more than whitespace and at most
 * CODEC_MAX_PROMPT characters. SY_OK with *out (caller frees), or SY_ERR
 * with a sentence naming the variable and the template in err. */
int tmpl_render(const struct conf_template *t, const json_object *vars, char **out, char *err,
                size_t errlen);

#endif
