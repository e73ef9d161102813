"""The SIM-aided multiuser MISO downlink of An et al. (ICC 2023): beamforming in the wave domain."""
