/* placeholder: providers/provider.c */
typedef int sy_placeholder_provider_t;
