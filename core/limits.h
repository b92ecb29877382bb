/* limits.h — the few bounds of the job format that the config checks too:
 * conf/ must not include queue/ (docs/architecture.md §Modules), so they live
 * here, below both. */
#ifndef CORE_LIMITS_H
#define CORE_LIMITS_H

#define CODEC_MAX_PROMPT 20000      /* characters (code points) of a job's prompt */
#define CODEC_MIN_RESULT_BYTES 4096 /* smallest sane bound for codec_result_json_max() */

#endif
