/* placeholder: tests/fakeprov/fp_common.c */
typedef int sy_placeholder_fp_common_t;
