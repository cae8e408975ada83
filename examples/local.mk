# SPDX-License-Identifier: MIT
# Small programs a newcomer reads first; built by make, not installed.
noinst_PROGRAMS += examples/generator examples/producer-consumer
examples_generator_SOURCES = examples/generator.c
examples_generator_LDADD = libcoop.la
examples_producer_consumer_SOURCES = examples/producer-consumer.c
examples_producer_consumer_LDADD = libcoop.la

# A TCP echo server and its client on the thread's loop (coop-loop.h):
#   examples/echo-server 7777 --exit-after 10 & examples/echo-client 7777
noinst_PROGRAMS += examples/echo-server examples/echo-client
examples_echo_server_SOURCES = examples/echo-server.c
examples_echo_server_LDADD = libcoop.la
examples_echo_client_SOURCES = examples/echo-client.c
examples_echo_client_LDADD = libcoop.la
