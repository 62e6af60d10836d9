# agent/: vigil-agent
AGENT_SRCS += agent/main.c
