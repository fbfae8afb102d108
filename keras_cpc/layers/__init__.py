"""keras_cpc.layers"""
