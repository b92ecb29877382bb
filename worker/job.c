/* placeholder: worker/job.c */
typedef int sy_placeholder_job_t;
