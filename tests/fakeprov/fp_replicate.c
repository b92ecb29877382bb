/* placeholder: tests/fakeprov/fp_replicate.c */
typedef int sy_placeholder_fp_replicate_t;
