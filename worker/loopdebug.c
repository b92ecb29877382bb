/* loopdebug.c — curl's debug output (debug log level only) through the JSON
 * logger, with credential headers redacted; see loopdebug.h and
 * loop_debug_line_secret() in loop.h. */
#include "worker/loopdebug.h"
#include "worker/loop.h"

#include <string.h>
#include <strings.h>

#include "core/log.h"

/* Substrings that mark a credential header wherever they appear in a debug
 * line: the header line itself, or curl's per-stream HTTP/2 / HTTP/3 info
 * line that repeats it ("[HTTP/2] [1] [authorization: Bearer …]").
 * "authorization:" covers proxy-authorization, "cookie:" covers set-cookie. */
int loop_debug_line_secret(const char *line, size_t len)
{
    static const char *const marks[] = { "authorization:", "cookie:" };
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        size_t n = strlen(marks[i]);
        for (size_t at = 0; at + n <= len; at++)
            if (strncasecmp(line + at, marks[i], n) == 0)
                return 1;
    }
    return 0;
}

/* CURLOPT_DEBUGFUNCTION (set only at debug level): curl's own diagnostics
 * and the header lines, one log line each, through the JSON logger. Bodies
 * are not logged; a line holding a credential header (Authorization,
 * cookies), plain or inside curl's HTTP/2-3 info lines, is logged only as
 * "[credential header redacted]", without its name or value. */
static int on_curl_debug(CURL *e, curl_infotype type, char *data, size_t size, void *ud)
{
    (void)e;
    (void)ud;
    const char *dir;
    switch (type) {
    case CURLINFO_TEXT:
        dir = "*";
        break;
    case CURLINFO_HEADER_IN:
        dir = "<";
        break;
    case CURLINFO_HEADER_OUT:
        dir = ">";
        break;
    default:
        return 0; /* request and reply bodies, TLS data */
    }
    size_t pos = 0;
    while (pos < size) {
        size_t end = pos;
        while (end < size && data[end] != '\n' && data[end] != '\r')
            end++;
        size_t len = end - pos;
        if (len > 0) {
            const char *ln = data + pos;
            if (loop_debug_line_secret(ln, len)) {
                LOG_DEBUG(NULL, "curl %s [credential header redacted]", dir);
            } else {
                LOG_DEBUG(NULL, "curl %s %.*s", dir, (int)(len > 1024 ? 1024 : len), ln);
            }
        }
        pos = end + 1;
    }
    return 0;
}

void loop_debug_setopt(CURL *e)
{
    if (log_enabled(LOG_LVL_DEBUG)) {
        curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_curl_debug);
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_VERBOSE, 0L);
    }
}
