/* fuzz_template.c — tmpl_apply() (queue/tmplapply.c) on a fixed config with a
 * fuzzed template name, vars and operation. Input: byte 0 sets the job's
 * operation (bit 0: given, bit 1: edit) and image_urls (bit 2); then the
 * template name up to '\n'; the rest is the "vars" JSON text. The job is
 * built through codec_job_parse(), as the worker gets it. */
#include <json-c/json.h>

#include "conf/template.h"
#include "queue/tmplapply.h"
#include "queue/codec.h"
#include "tests/fuzz/fuzz.h"
#include "core/sy.h"

#define CONF_TEXT                                                                                                  \
    "providers = ( { name = \"kie\"; type = \"kie\"; priority = 1; base_url = \"https://api.kie.ai\";"             \
    " api_key_env = \"SY_FUZZ_KIE_KEY\"; } );\n"                                                                   \
    "templates = {\n"                                                                                              \
    "  restyle = { operation = \"edit\";\n"                                                                        \
    "    prompt = \"Redesign the {room} in this photo in {style} style; keep the walls of the {room}.\";\n"        \
    "    choices = { style = [\"scandinavian\", \"japandi\", \"mid-century modern\"];\n"                           \
    "                room = [\"bedroom\", \"kitchen\"]; };\n"                                                      \
    "  };\n"                                                                                                       \
    "  room = { operation = \"generate\"; prompt = \"A {style} {room}\"; defaults = { style = \"modern\"; }; };\n" \
    "  braces = { prompt = \"{{literal}} {x} }} {{{x}}}\"; };\n"                                                   \
    "  counts = { prompt = \"{n} chairs at {ratio} scale\"; };\n"                                                  \
    "  free = { prompt = \"  {x}  \"; };\n"                                                                        \
    "  many = { prompt = \"{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}\"; };\n"                   \
    "  fixed = { prompt = \"Empty the room\"; };\n"                                                                \
    "};\n"

static struct conf *conf;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char err[512] = "";
    setenv("SY_FUZZ_KIE_KEY", "kie-fuzz-key", 1);
    conf = conf_load_string(CONF_TEXT, "fuzz.conf", err, sizeof err);
    if (!conf) {
        fprintf(stderr, "fuzz_template: %s\n", err);
        abort();
    }
    return 0;
}

/* Number of code points in valid UTF-8 s. */
static size_t code_points(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* The job text: {"id":"fz","template":NAME,"vars":VARS[,"operation":…][,"image_urls":[…]]}. */
static char *job_text(unsigned flags, const char *name, const uint8_t *vars, size_t vlen,
                      size_t *len)
{
    json_object *js = json_object_new_string(name);
    const char *qname = json_object_to_json_string_ext(js, JSON_C_TO_STRING_PLAIN);
    const char *op = !(flags & 1)  ? ""
                     : (flags & 2) ? ",\"operation\":\"edit\""
                                   : ",\"operation\":\"generate\"";
    const char *imgs = (flags & 4) ? ",\"image_urls\":[\"https://example.com/a.jpg\"]" : "";
    size_t cap = strlen(qname) + vlen + strlen(op) + strlen(imgs) + 64;
    char *s = malloc(cap);
    FUZZ_CHECK(s != NULL);
    int n = snprintf(s, cap, "{\"id\":\"fz\",\"template\":%s%s%s,\"vars\":", qname, op, imgs);
    FUZZ_CHECK(n > 0 && (size_t)n + vlen + 2 <= cap);
    memcpy(s + n, vars, vlen);
    s[n + vlen] = '}';
    *len = (size_t)n + vlen + 1;
    json_object_put(js);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    data++, size--;
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl)
        return 0;
    char *name = fuzz_strndup(data, (size_t)(nl - data));
    size_t skip = (size_t)(nl - data) + 1, len = 0;
    char *text = job_text(flags, name, data + skip, size - skip, &len);
    char *buf = fuzz_dup((const uint8_t *)text, len);
    char err[256] = "";
    struct codec_job *job = codec_job_parse(buf, len, NULL, err, sizeof err);
    if (job) {
        FUZZ_CHECK(job->template_name != NULL && job->prompt == NULL);
        err[0] = '\0';
        int rc = tmpl_apply(conf, job, err, sizeof err);
        FUZZ_CHECK(rc == SY_OK || rc == SY_ERR);
        if (rc == SY_OK) {
            FUZZ_CHECK(job->prompt != NULL);
            size_t pl = strlen(job->prompt);
            FUZZ_CHECK(fuzz_utf8_valid(job->prompt, pl));
            FUZZ_CHECK(code_points(job->prompt) <= CODEC_MAX_PROMPT);
            FUZZ_CHECK(strspn(job->prompt, " \t\r\n\f\v") < pl);
            FUZZ_CHECK(job->op != CODEC_OP_EDIT || job->n_image_urls > 0);
        } else {
            FUZZ_CHECK(err[0] != '\0' && job->prompt == NULL);
        }
        codec_job_free(job);
    }
    free(buf);
    free(text);
    free(name);
    return 0;
}
