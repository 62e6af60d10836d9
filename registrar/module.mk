# registrar/: vigil-registrar
REGISTRAR_SRCS += registrar/main.c
