/* loopdebug.h — internal to loop.c: curl's own diagnostics through the JSON
 * logger at debug level, credential headers redacted. */
#ifndef WORKER_LOOPDEBUG_H
#define WORKER_LOOPDEBUG_H

#include <curl/curl.h>

/* At debug log level, route e's verbose output (diagnostics and header lines,
 * never bodies) to the logger, a line holding a credential header logged
 * only as "[credential header redacted]"; otherwise turn verbose off. Loop
 * thread. */
void loop_debug_setopt(CURL *e);

#endif
