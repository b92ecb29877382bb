/* placeholder: queue/codec.c */
typedef int sy_placeholder_codec_t;
