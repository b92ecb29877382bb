/* placeholder: worker/dispatch.c */
typedef int sy_placeholder_dispatch_t;
