/* placeholder: tests/fakeprov/fp_kie.c */
typedef int sy_placeholder_fp_kie_t;
