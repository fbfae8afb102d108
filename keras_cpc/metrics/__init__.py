"""keras_cpc.metrics"""
