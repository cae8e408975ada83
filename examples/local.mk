# SPDX-License-Identifier: MIT
# Small programs a newcomer reads first; built by make, not installed.
noinst_PROGRAMS += examples/generator examples/producer-consumer
examples_generator_SOURCES = examples/generator.c
examples_generator_LDADD = libcoop.la
examples_producer_consumer_SOURCES = examples/producer-consumer.c
examples_producer_consumer_LDADD = libcoop.la
