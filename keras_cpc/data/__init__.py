"""keras_cpc.data"""
