/* placeholder: conf/config.c */
typedef int sy_placeholder_config_t;
