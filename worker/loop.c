/* placeholder: worker/loop.c */
typedef int sy_placeholder_loop_t;
