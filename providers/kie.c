/* placeholder: providers/kie.c */
typedef int sy_placeholder_kie_t;
