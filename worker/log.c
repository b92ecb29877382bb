/* placeholder: worker/log.c */
typedef int sy_placeholder_log_t;
