/* codec_job_ref.h — the pre-jread job codec, for fuzz_codec_job_diff.c only. */
#ifndef TESTS_FUZZ_CODEC_JOB_REF_H
#define TESTS_FUZZ_CODEC_JOB_REF_H

#include "queue/codec.h"

/* codec_job_parse() as it was (free the job with codec_job_free()). */
struct codec_job *codec_job_ref_parse(const char *buf, size_t len, char **id_out, char *err,
                                      size_t errlen);

#endif
